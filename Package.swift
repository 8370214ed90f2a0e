// swift-tools-version:6.2
import PackageDescription

// Data flows one way and the targets show it:
// HAVPNModel (topology file, address plan) → HAVPNPlanner (desired state, diff, plan)
// → HAVPNNetlink (the kernel) → HAVPNReconcile (one pass) → HAVPNService (run loop, controllers, HTTP) → havpn (CLI).
// HAVPNModel, HAVPNPlanner and HAVPNControl are pure: no Glibc, no libnl, no NIO. The two C libraries they
// use stay behind one file each: libyaml (CYAML) in HAVPNModel's YAML reader, swift-crypto's HMAC in the
// announcement codec.

// MARK: - The shipping link
// A short-lived `havpn plan` in a small pod costs mostly start-up: mapping, relocating and resolving
// symbols. The shipping build (scripts/lib/deps.sh sets HAVPN_SHIPPING_BUILD=1 beside
// --static-swift-stdlib) links it with lld and:
// - libnl-3, libnl-route-3, libyaml and libstdc++ from their static archives (Debian's -dev packages ship
//   them): Linker/static-archives holds linker scripts named like the shared libraries, found first on
//   the search path, so every -lnl-3 (the module maps', pkg-config's, the toolchain's -lstdc++) links the
//   archive and no shared copy is loaded at start-up;
// - --no-export-dynamic: the static Swift runtime's link arguments export every symbol (27,000, 2.4 MB
//   of symbol tables the dynamic loader searches for each library's imports); havpn needs none exported;
// - -z pack-relative-relocs (DT_RELR, glibc 2.36): the 72,000 relative relocations in 14 kB, not 1.7 MB;
// - Linker/startup-order.txt (scripts/startup-order writes it): the ~2,500 functions that --version,
//   validate and plan execute, placed together at the start of .text (every package is compiled with
//   -function-sections for it, see deps.sh): they spread over 758 pages of code before, 399 now.
// The executable stays position-independent (ASLR). Other builds (tests, fuzzing) link as before.
// pkg-config is not asked in the shipping build: its -L/usr/lib/<triple> would come first on the search
// path and find the shared libraries; the module maps' own `link` names are enough, and libnl's headers
// are in their standard place.
let shippingBuild = Context.environment["HAVPN_SHIPPING_BUILD"] == "1"
let shippingLink: [LinkerSetting]? =
    shippingBuild
    ? [
        .unsafeFlags([
            "-use-ld=lld", "-L", Context.packageDirectory + "/Linker/static-archives",
            "-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            "-Xlinker", "--symbol-ordering-file=" + Context.packageDirectory + "/Linker/startup-order.txt",
            "-Xlinker", "--no-warn-symbol-ordering",
        ])
    ] : nil
let libnlHeaders: [SwiftSetting]? = shippingBuild ? [.unsafeFlags(["-Xcc", "-I/usr/include/libnl3"])] : nil

let package = Package(
    name: "havpn",
    products: [
        .executable(name: "havpn", targets: ["havpn"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // 4.x imports FoundationEssentials where 3.x imports all of Foundation (the shipping binary's size).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: - Pure core
        .systemLibrary(
            name: "CYAML",
            pkgConfig: shippingBuild ? nil : "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "HAVPNModel", dependencies: ["CYAML"]),
        .target(name: "HAVPNPlanner", dependencies: ["HAVPNModel"]),
        .target(
            name: "HAVPNControl",
            dependencies: ["HAVPNModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "HAVPNOpenVPN", dependencies: ["HAVPNModel"]),

        // MARK: - Kernel
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: shippingBuild ? nil : "libnl-route-3.0",
            providers: [.apt(["libnl-route-3-dev"])]
        ),
        .target(
            name: "HAVPNNetlink",
            dependencies: ["CNetlink", "HAVPNModel", "HAVPNPlanner"],
            swiftSettings: libnlHeaders
        ),
        // libnftables, opened with dlopen on first use (see its header): no process pays for loading it
        // and its five libraries unless it programs nftables.
        .target(name: "CNftables"),
        // iptables-legacy tables read in-process (IPT_SO_GET_ENTRIES) and walked in C, where the kernel's
        // UAPI headers can be used without clashing with glibc's in Swift's module.
        .target(name: "CXtables"),
        // The packet filter and NAT (issue 8): nftables through libnftables, or iptables-legacy. It
        // enters the target namespace through HAVPNNetlink's NetworkNamespace (one implementation).
        .target(
            name: "HAVPNFirewall",
            dependencies: ["CNftables", "CXtables", "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink"]
        ),

        // MARK: - One reconcile pass (observe → plan → apply → verify): the one-shot commands need
        // only this, not the side-car's NIO, metrics and service stack.
        .target(name: "HAVPNReconcile", dependencies: ["HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNFirewall"]),

        // MARK: - Services (reconcile loop, controllers' I/O, HTTP)
        // epoll, splice(2) and friends for the CONNECT proxy's kernel-space relay (Glibc's module lacks them).
        .target(name: "CSplice"),
        .target(
            name: "HAVPNService",
            dependencies: [
                "CSplice", "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNReconcile", "HAVPNControl",
                "HAVPNFirewall",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),

        // MARK: - CLI
        // malloc settings and one pre-faulted heap block for the short-lived commands that read the kernel (plan, apply).
        .target(name: "COneShotHeap"),
        // The git commit, captured at build time for `--version` and `havpn_build_info`.
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        .executableTarget(
            name: "havpn",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNReconcile", "HAVPNControl", "HAVPNOpenVPN",
                "HAVPNService", "HAVPNFirewall", "COneShotHeap",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            linkerSettings: shippingLink,
            plugins: ["BuildInfoPlugin"]
        ),

        // MARK: - Tests
        // What several test targets share: running a tool (posix_spawn, also inside the UML lab), a
        // throw-away network namespace and polling with a deadline. A regular target that only test
        // targets depend on.
        .target(name: "HAVPNTestSupport", path: "Tests/HAVPNTestSupport"),
        .testTarget(
            name: "HAVPNModelTests",
            dependencies: ["HAVPNModel"],
            resources: [.copy("../Fixtures")]
        ),
        .testTarget(
            name: "HAVPNPlannerTests",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "HAVPNControlTests",
            dependencies: [
                "HAVPNModel", "HAVPNControl",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "HAVPNOpenVPNTests", dependencies: ["HAVPNModel", "HAVPNOpenVPN"]),
        .testTarget(
            name: "HAVPNServiceTests",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNReconcile", "HAVPNControl", "HAVPNService", "HAVPNTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Runs the built `havpn` executable (exit codes, one-line errors), and tests the one-shot heap it
        // prepares (each in a process of its own); no kernel access.
        .testTarget(name: "HAVPNCLITests", dependencies: ["havpn", "HAVPNTestSupport", "COneShotHeap"]),
        // Host-only: parsing and message construction through libnl, no kernel needed.
        .testTarget(
            name: "HAVPNNetlinkTests",
            dependencies: ["HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNTestSupport"]
        ),
        // Runs only inside the real-kernel lab (lab/run); skipped elsewhere.
        .testTarget(
            name: "HAVPNKernelTests",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNFirewall", "HAVPNService", "HAVPNTestSupport",
            ]
        ),
        // nftables on the host kernel, each test in a fresh network namespace; skipped without nf_tables.
        .testTarget(
            name: "HAVPNFirewallTests",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNFirewall", "HAVPNNetlink", "HAVPNReconcile", "HAVPNService",
                "HAVPNTestSupport",
            ]
        ),
    ]
)

// Warnings are errors in havpn's own Swift targets (dependencies keep their own settings).
for target in package.targets where target.type != .system && target.type != .plugin {
    var settings = target.swiftSettings ?? []
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}

// MARK: - Fuzz targets (scripts/fuzz)
// libFuzzer provides `main` and the coverage instrumentation comes from `-sanitize=fuzzer` on every
// module, so these exist only in the fuzz build (HAVPN_FUZZ=1, its own scratch path).
if Context.environment["HAVPN_FUZZ"] == "1" {
    let fuzzSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
    package.targets += [
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(
            name: "FuzzAnnouncement",
            dependencies: ["FuzzSupport", "HAVPNModel", "HAVPNControl"],
            path: "Fuzz/FuzzAnnouncement",
            swiftSettings: fuzzSettings
        ),
        .executableTarget(
            name: "FuzzNetlink",
            dependencies: ["FuzzSupport", "HAVPNNetlink"],
            path: "Fuzz/FuzzNetlink",
            swiftSettings: fuzzSettings
        ),
        .executableTarget(
            name: "FuzzTopology",
            dependencies: ["FuzzSupport", "HAVPNModel"],
            path: "Fuzz/FuzzTopology",
            swiftSettings: fuzzSettings
        ),
    ]
}
