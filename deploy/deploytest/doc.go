// Package deploytest holds only tests: it checks the files under deploy/
// offline, the way each is consumed. The systemd unit with
// `systemd-analyze verify` (skipped where systemd is not installed), the
// container file by running its own `go build` line (no container engine
// needed), the compose file and its Dovecot configuration (`doveconf`),
// the Kubernetes manifests by strict decoding into the k8s.io/api types,
// and every example casemail.yaml with the config loader. It never
// installs anything and never talks to a cluster or a registry.
package deploytest
