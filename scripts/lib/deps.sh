# Sourced by scripts/*: installs what havpn needs on a fresh Debian 12 machine (idempotent).
# Swift itself is expected on PATH (the machine image ships /opt/swift). The shipping link takes libnl,
# libyaml and libstdc++ from their static archives (the -dev packages ship them) and is checked with readelf
# (binutils); Swift's own Debian dependencies bring both, but they are named here rather than assumed.
havpn_apt_packages="libnl-route-3-dev libnl-3-dev libyaml-dev libnftables-dev nftables pkg-config libstdc++-12-dev binutils user-mode-linux vde2 iproute2 kmod openvpn openssl socat iptables iputils-ping python3 python3-yaml python3-jsonschema python3-pip curl procps time prometheus"
# scripts/check-operability: promtool comes with the Debian package prometheus (installing it starts no server
# where policy-rc.d or the absence of systemd forbids it, as in CI's container); kubernetes-validate from PyPI.
havpn_kubernetes_validate_version="1.37.0"

havpn_install_deps() { havpn_install_apt $havpn_apt_packages; }

# havpn_install_apt PACKAGE...: installs the Debian packages that are missing (for one script's extra needs).
havpn_install_apt() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing apt packages:$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

havpn_require_swift() {
    command -v swift >/dev/null 2>&1 || { [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"; }
    command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH (expected /opt/swift)" >&2; exit 1; }
}

# The shipping build: release, Swift runtime linked statically (a side-car image needs no Swift
# runtime, and process start-up halves under user-mode-linux), and the shipping link of Package.swift
# (HAVPN_SHIPPING_BUILD: lld, static libnl, libyaml and libstdc++). Prints the binary's path.
# -function-sections (every package, dependencies included) lets the linker place each function
# by Linker/startup-order.txt. Its own scratch path: swiftc keeps an object whose module hash is
# unchanged, so objects built before without the flag would otherwise stay. --disable-local-rpath:
# the binary needs no library beside itself, so dlopen(libnftables) looks only where the system's are.
havpn_shipping_flags="-c release --static-swift-stdlib -Xswiftc -Xfrontend -Xswiftc -function-sections --disable-local-rpath --scratch-path .build-shipping"
havpn_build_release() {
    # shellcheck disable=SC2086 # the flags are words
    HAVPN_SHIPPING_BUILD=1 swift build --product havpn $havpn_shipping_flags >&2
    # shellcheck disable=SC2086
    echo "$(HAVPN_SHIPPING_BUILD=1 swift build $havpn_shipping_flags --show-bin-path)/havpn"
}
