package local

import "errors"

var (
	// ErrNoFreeSubnet is returned when all 10.77.<x>.0/24 subnets are taken
	// by live runs.
	ErrNoFreeSubnet = errors.New("local: no free 10.77.x.0/24 subnet: too many runs alive (try `coordlab clean`)")
	// ErrNeedRoot is returned when the netns mode is asked for without root.
	ErrNeedRoot = errors.New("local: network namespaces need root")
	// ErrMemberExited is returned when a member's process exits on its own.
	ErrMemberExited = errors.New("local: member process exited")
)
