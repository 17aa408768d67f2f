#!/usr/bin/env bash
# Install what xpush needs on Debian 12, idempotently.
#   scripts/install-deps.sh demo   build and run the Fyne tray agent
#   scripts/install-deps.sh test   everything scripts/test.sh needs (default)
# Runs as root (or via sudo when available). Safe to run repeatedly: apt is
# skipped when every package is installed, Go tools when the pinned version is.
set -euo pipefail

mode=${1:-test}
case $mode in
demo | test) ;;
*)
	echo "usage: $0 [demo|test]" >&2
	exit 2
	;;
esac

export PATH="/usr/local/go/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

# Fyne (cgo, GLFW) build dependencies, plus TLS roots for the module proxy.
demo_pkgs=(
	gcc libc6-dev pkg-config ca-certificates
	libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev
	libxinerama-dev libxi-dev libxxf86vm-dev
)
# Headless desktop, real XMPP servers, browser, cross-compiler, tools.
test_pkgs=(
	xvfb xauth dbus dbus-x11 dunst gnome-keyring libsecret-tools
	imagemagick fonts-dejavu-core locales
	prosody ejabberd erlang-base
	chromium python3-slixmpp gcc-mingw-w64-x86-64
	openssl netcat-openbsd procps postgresql shellcheck
)
# Go tools, pinned: import path and version.
go_tools=(
	honnef.co/go/tools/cmd/staticcheck@v0.8.2
	mvdan.cc/gofumpt@v0.9.2
	golang.org/x/vuln/cmd/govulncheck@v1.9.0
	github.com/securego/gosec/v2/cmd/gosec@v2.30.0
)

pkgs=("${demo_pkgs[@]}")
if [[ $mode == test ]]; then
	pkgs+=("${test_pkgs[@]}")
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

# Packages not yet fully installed ("ii" in dpkg's status).
missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	if [[ $st != ii* ]]; then
		missing+=("$p")
	fi
done

policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
	if [[ $made_policy -eq 1 ]]; then
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT

apt_note="apt: nothing to install"
if ((${#missing[@]} > 0)); then
	# Keep maintainer scripts from starting prosody, ejabberd, postgresql...
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		made_policy=1
	fi
	"${sudo[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		-o DPkg::Lock::Timeout=300 \
		--no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
	apt_note="apt: installed ${missing[*]}"
fi

locale_note=""
if [[ $mode == test ]] && ! locale -a 2>/dev/null | grep -qix 'en_US\.utf-\?8'; then
	# Tests run with LANG=en_US.UTF-8; build just that locale.
	"${sudo[@]}" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
	locale_note="; locale: en_US.UTF-8 generated"
fi

tools_note=""
if [[ $mode == test ]]; then
	command -v go >/dev/null || {
		echo "install-deps: go not found (expected /usr/local/go/bin)" >&2
		exit 1
	}
	gobin=$(go env GOBIN)
	gobin=${gobin:-$(go env GOPATH)/bin}
	installed=()
	for t in "${go_tools[@]}"; do
		path=${t%@*}
		want=${t##*@}
		bin="$gobin/${path##*/}"
		have=""
		if [[ -x $bin ]]; then
			# The module version the binary was built from.
			have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $3; exit}')
		fi
		if [[ $have != "$want" ]]; then
			go install "$t"
			installed+=("${path##*/}@$want")
		fi
	done
	if ((${#installed[@]} > 0)); then
		tools_note="; go tools: installed ${installed[*]}"
	else
		tools_note="; go tools: up to date"
	fi
fi

echo "install-deps ($mode): $apt_note$locale_note$tools_note"
