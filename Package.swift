// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "uring-relay",
    products: [
        .library(name: "UringRelay", targets: ["UringRelay"]),
        .executable(name: "uring-relay", targets: ["uring-relay"]),
        .executable(name: "relay-bench", targets: ["relay-bench"]),
    ],
    targets: [
        // The only C in the project and the only code that includes <liburing.h>.
        // liburing is found through pkg-config; -luring is linked by the shim's module map.
        .target(
            name: "CURing",
            path: "Sources/CURing",
            linkerSettings: [.linkedLibrary("uring")]
        ),
        .target(name: "UringRelay", dependencies: ["CURing"]),
        .executableTarget(name: "uring-relay", dependencies: ["UringRelay"]),
        .executableTarget(name: "relay-bench", dependencies: ["UringRelay"]),
        .testTarget(name: "UringRelayTests", dependencies: ["UringRelay"]),
        // relay-bench too: its smtp sink and load generator are tested against each other and the relay.
        .testTarget(name: "IntegrationTests", dependencies: ["UringRelay", "uring-relay", "relay-bench"]),
    ]
)
