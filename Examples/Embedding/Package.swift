// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Embedding",
    dependencies: [
        // In your own package: .package(url: "<where you keep ShardLog>", branch: "main")
        .package(name: "ShardLog", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "Embedding", dependencies: [.product(name: "ShardLog", package: "ShardLog")]),
    ]
)
