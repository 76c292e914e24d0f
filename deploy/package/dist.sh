#!/usr/bin/env bash
# dist.sh: casemail's release artefacts, as `make dist` runs it:
#   DIST/casemail_VERSION_linux_ARCH/        static binary, unit, examples, man page
#   DIST/casemail_VERSION_linux_ARCH.tar.gz  that directory packed
#   DIST/casemail_DEBVERSION_ARCH.deb        the Debian package (nfpm, run
#                                            with `go run` at a pinned version)
#   DIST/SHA256SUMS                          checksums of the tarballs and packages
# Environment: VERSION (default: git describe), ARCHS (default: amd64 arm64),
# DIST (default: dist), GO (default: go).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

GO=${GO:-go}
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ARCHS=${ARCHS:-amd64 arm64}
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

# Debian versions start with a digit: v1.2.3 → 1.2.3; a commit → 0.0~gitCOMMIT.
v=${VERSION#v}
if [[ $v =~ ^[0-9]+\.[0-9] ]]; then
	DEB_VERSION=${v//-/\~}
else
	DEB_VERSION="0.0~git${v//-/.}"
fi

# The man page is the --help text in roff.
manpage() {
	local bin=$1
	printf '.TH CASEMAIL 1 "%s" "casemail %s" "casemail manual"\n' "$(date -u +%Y-%m-%d)" "$VERSION"
	printf '.SH NAME\ncasemail \\- email-driven helpdesk daemon\n'
	printf '.SH SYNOPSIS\n.B casemail\n.I COMMAND\n[flags] [args]\n'
	printf '.SH DESCRIPTION\n.nf\n'
	"$bin" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
	printf '.fi\n'
	printf '.SH FILES\n.TP\n/etc/casemail/casemail.yaml\nthe daemon config\n'
	printf '.TP\n/etc/casemail/rules.yaml\nthe routing rules, reloaded on change\n'
	printf '.TP\n/etc/casemail/env\nenvironment (CASEMAIL_DATABASE_URL=...) for the unit and the CLI\n'
	printf '.TP\n/etc/casemail/secret\nthe reply-token key: back it up with the database\n'
	printf '.SH SEE ALSO\n/usr/share/doc/casemail/README.md\n'
}

rm -f "$DIST/SHA256SUMS"
for arch in $ARCHS; do
	name="casemail_${VERSION}_linux_${arch}"
	stage="$DIST/$name"
	rm -rf "$stage"
	mkdir -p "$stage/doc/examples"
	echo "dist: building $name (static)"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$stage/casemail" ./cmd/casemail
	# The man page comes from a binary that runs here.
	helpbin="$stage/casemail"
	if [ "$arch" != "$("$GO" env GOARCH)" ]; then
		helpbin="$DIST/.casemail-host"
		CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-X main.version=$VERSION" -o "$helpbin" ./cmd/casemail
	fi
	manpage "$helpbin" | gzip -9n > "$stage/casemail.1.gz"
	# The unit as installed by the package: the binary in /usr/bin.
	sed 's#/usr/local/bin/casemail#/usr/bin/casemail#g' deploy/systemd/casemail.service > "$stage/casemail.service"
	cp deploy/systemd/casemail.sysusers "$stage/casemail.sysusers"
	cp deploy/systemd/casemail.env "$stage/env"
	cp deploy/examples/dovecot.yaml "$stage/casemail.yaml"
	cp deploy/examples/rules.yaml "$stage/rules.yaml"
	cp deploy/package/postinst "$stage/postinst"
	cp README.md "$stage/doc/"
	cp deploy/examples/*.yaml "$stage/doc/examples/"
	tar -C "$DIST" -czf "$DIST/$name.tar.gz" --owner=0 --group=0 "$name"
	echo "dist: packaging casemail_${DEB_VERSION}_${arch}.deb"
	# nfpm resolves the recipe's sources relative to the directory it runs in.
	(cd "$stage" && DEB_ARCH=$arch DEB_VERSION=$DEB_VERSION \
		"$GO" run "$NFPM" package --config "$OLDPWD/deploy/package/nfpm.yaml" --packager deb \
		--target "$DIST/casemail_${DEB_VERSION}_${arch}.deb")
done
rm -f "$DIST/.casemail-host"
(cd "$DIST" && sha256sum -- *.tar.gz *.deb > SHA256SUMS)
echo "dist: done:"
(cd "$DIST" && ls -1 *.tar.gz *.deb SHA256SUMS)
