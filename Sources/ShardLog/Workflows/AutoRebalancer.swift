import ServiceLifecycle

/// Automatic rebalancing (Specs/Workflows.md, WF-055): a `Service` for an app's
/// `ServiceGroup`. Every `interval` it analyses the store and, when a threshold of the
/// store's configuration is crossed and no plan is running, plans and applies a rebalance.
/// It stops on graceful shutdown or cancellation; the CLI never starts it.
///
/// ```swift
/// let group = ServiceGroup(services: [AutoRebalancer(store: store)], logger: logger)
/// try await group.run()
/// ```
public struct AutoRebalancer: Service {
    public let store: ShardStore
    public let interval: Duration
    /// Called with each plan it applied (for logs and metrics).
    public let onRebalance: (@Sendable (RebalanceWorkflow) -> Void)?

    /// `interval` defaults to the store's `rebalanceInterval` (one hour).
    public init(store: ShardStore, interval: Duration? = nil, onRebalance: (@Sendable (RebalanceWorkflow) -> Void)? = nil) {
        self.store = store
        self.interval = interval ?? store.configuration.rebalanceInterval
        self.onRebalance = onRebalance
    }

    public func run() async throws {
        // Cancellation (and so graceful shutdown) ends the sleep and the loop.
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                if let plan = try await store.rebalanceIfNeeded() { onRebalance?(plan) }
            }
        }
    }
}
