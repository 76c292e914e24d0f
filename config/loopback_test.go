package config

import "testing"

// Security "none" sends passwords in clear, so IsLoopback must refuse
// every name that only looks local.
func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true,
		"localhost": true, "LocalHost": true, "imap.localhost": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "[::ffff:8.8.8.8]": false,
		"example.org": false, "localhost.example.org": false, "evillocalhost": false,
		"127.0.0.1.nip.io": false, "localhost:143": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
