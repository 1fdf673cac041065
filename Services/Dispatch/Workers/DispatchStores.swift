import FlowtalkStore
import Logging

/// The repositories dispatch works with. Each owns its tables (docs/architecture.md); dispatch writes conversations,
/// replies and activity, marks connections, and only reads rules, settings and Ice Breakers.
struct DispatchStores: Sendable {
    let client: Database
    let logger: Logger
    let conversations: ConversationStore
    let activity: ActivityStore
    let connections: ConnectionStore
    let automation: AutomationStore

    init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
        conversations = ConversationStore(client: client, logger: logger)
        activity = ActivityStore(client: client, logger: logger)
        connections = ConnectionStore(client: client, logger: logger)
        automation = AutomationStore(client: client, logger: logger)
    }
}
