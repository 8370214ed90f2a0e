// swift-tools-version:6.2
import PackageDescription

// Data flows one way and the targets show it:
// HAVPNModel (topology file, address plan) → HAVPNPlanner (desired state, diff, plan)
// → HAVPNNetlink (the kernel) → HAVPNService (run loop, controllers, HTTP) → havpn (CLI).
// HAVPNModel, HAVPNPlanner and HAVPNControl are pure: no Glibc, no libnl, no NIO.
let package = Package(
    name: "havpn",
    products: [
        .executable(name: "havpn", targets: ["havpn"])
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: - Pure core
        .target(
            name: "HAVPNModel",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(name: "HAVPNPlanner", dependencies: ["HAVPNModel"]),
        .target(name: "HAVPNControl", dependencies: ["HAVPNModel"]),
        .target(name: "HAVPNOpenVPN", dependencies: ["HAVPNModel"]),

        // MARK: - Kernel
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-route-3-dev"])]
        ),
        .target(name: "HAVPNNetlink", dependencies: ["CNetlink", "HAVPNModel", "HAVPNPlanner"]),

        // MARK: - Services (reconcile loop, controllers' I/O, HTTP)
        .target(
            name: "HAVPNService",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNControl",
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
        .executableTarget(
            name: "havpn",
            dependencies: [
                "HAVPNModel", "HAVPNPlanner", "HAVPNNetlink", "HAVPNControl", "HAVPNOpenVPN", "HAVPNService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Tests
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
                "HAVPNModel", "HAVPNPlanner", "HAVPNControl", "HAVPNService",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Runs the built `havpn` executable (exit codes, one-line errors); no kernel access.
        .testTarget(name: "HAVPNCLITests", dependencies: ["havpn"]),
        // Runs only inside the real-kernel lab (lab/run); skipped elsewhere.
        .testTarget(
            name: "HAVPNKernelTests",
            dependencies: ["HAVPNModel", "HAVPNPlanner", "HAVPNNetlink"]
        ),
    ]
)
