package docker

import "errors"

var (
	// ErrNoDocker: the Docker engine did not answer.
	ErrNoDocker = errors.New("docker: the Docker engine is not reachable (is dockerd running? `docker info` must work); or use --runtime local")
	// ErrNoImage: the engine's image is not built; images are never pulled.
	ErrNoImage = errors.New("docker: image not found")
)
