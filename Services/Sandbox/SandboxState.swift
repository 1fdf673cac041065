import Foundation

/// A message the sandbox saw: sent by the bot through the Graph API, or sent by a simulated customer.
struct SandboxMessage: Codable, Sendable, Equatable {
    var direction: String  // "in" (customer → business) or "out" (business → customer)
    var customerID: String
    var text: String
    var mid: String
    var atMs: Int64
    /// A sent message's quick replies, or its button template's buttons (title and payload each).
    var quickReplies: [SandboxOption]? = nil
    var buttons: [SandboxOption]? = nil

    init(direction: String, customerID: String, text: String, mid: String, atMs: Int64) {
        self.direction = direction
        self.customerID = customerID
        self.text = text
        self.mid = mid
        self.atMs = atMs
    }

    enum CodingKeys: String, CodingKey {
        case direction, text, mid, buttons
        case customerID = "customer_id"
        case atMs = "at_ms"
        case quickReplies = "quick_replies"
    }
}

/// A quick reply or button as the Send API took it.
struct SandboxOption: Codable, Sendable, Equatable {
    let title: String
    let payload: String
}

/// The options of one sent message.
struct SandboxOptions: Sendable {
    let kind: String
    let options: [SandboxOption]
}

/// A failure to inject into the next Graph API sends of an account.
struct Fault: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        case tokenExpired = "token_expired"
        case outsideWindow = "outside_window"
        case userUnavailable = "user_unavailable"
        case rateLimit = "rate_limit"
        case serverError = "server_error"
        case slow
        /// Answers 200 and then breaks the connection before the body: the message went out, the answer was lost.
        case drop
        /// No fault: the send goes through (to place a fault on a later send: `[{"kind":"pass"},{"kind":"rate_limit"}]`).
        case pass
    }
    var kind: Kind
    /// How many sends it affects (default 1).
    var count: Int?
    /// For `slow`: seconds to wait before answering.
    var seconds: Int?
}

/// A failure or special answer to inject into the next Groq chat completions.
struct GroqFault: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        case cannotHelp = "cannot_help"
        case rateLimit = "rate_limit"
        case serverError = "server_error"
        case slow
        case malformed
        /// A reply of about 3,000 bytes (sentences), longer than Instagram takes in one message.
        case long
    }
    var kind: Kind
    var count: Int?
    var seconds: Int?
}

/// A fault that applies to the next `count` calls.
protocol CountedFault {
    var count: Int? { get set }
}

extension Fault: CountedFault {}
extension GroqFault: CountedFault {}

/// The sandbox's memory: accounts, conversations, pending faults. Lost on restart, by design.
actor SandboxState {
    private var accounts: [String: SandboxAccount] = [:]
    private var conversations: [String: [SandboxMessage]] = [:]
    private var faults: [String: [Fault]] = [:]
    private var counter = 0
    private var iceBreakers: [String: IceBreakersProfile] = [:]  // ig_id → the last Ice Breakers set
    private var extraTokens: [String: String] = [:]  // token → ig_id (issued by OAuth or refresh)
    private var codes: [String: String] = [:]  // authorization code → ig_id
    private var subscriptions: [String: [String]] = [:]  // ig_id → the webhook fields it is subscribed to
    private var groqRequests: [String] = []
    private var usernames: [String: String] = [:]  // customer id → the username the simulator gave ("" = no profile)
    private var groqFaults: [GroqFault] = []
    /// Faults applied so far, by `graph.<kind>` / `groq.<kind>` (for fault-injection runs: `GET /sandbox/faults`).
    private(set) var appliedFaults: [String: Int] = [:]

    init(accounts: [SandboxAccount]) {
        for account in accounts { self.accounts[account.igID] = account }
    }

    func register(_ account: SandboxAccount) { accounts[account.igID] = account }

    /// The account a bearer token belongs to: its configured token or one the sandbox issued since.
    func account(forToken token: String) -> SandboxAccount? {
        if let account = accounts.values.first(where: { $0.token == token }) { return account }
        return extraTokens[token].flatMap { accounts[$0] }
    }

    func issueToken(for igID: String) -> String {
        let token = "IGAA-sandbox-\(UUID().uuidString)"
        extraTokens[token] = igID
        return token
    }

    func issueCode(for igID: String) -> String {
        let code = "code-\(UUID().uuidString)"
        codes[code] = igID
        return code
    }

    /// An authorization code is single-use.
    func redeem(code: String) -> String? { codes.removeValue(forKey: code) }

    var firstAccount: SandboxAccount? { accounts.values.sorted { $0.igID < $1.igID }.first }

    /// The account OAuth approves: the configured one, else the first.
    func oauthAccount(preferred: String?) -> SandboxAccount? { preferred.flatMap { accounts[$0] } ?? firstAccount }

    func setIceBreakers(_ profile: IceBreakersProfile?, account igID: String) { iceBreakers[igID] = profile }
    func iceBreakers(_ igID: String) -> IceBreakersProfile? { iceBreakers[igID] }

    /// Records the account's webhook subscription (what `POST /{ig_id}/subscribed_apps` set); none for an empty list.
    func subscribe(_ fields: [String], account igID: String) { subscriptions[igID] = fields.isEmpty ? nil : fields }
    /// The fields the account is subscribed to; nil when it is not subscribed.
    func subscribedFields(_ igID: String) -> [String]? { subscriptions[igID] }

    func recordGroq(_ body: String) { groqRequests.append(body) }
    func addGroqFaults(_ list: [GroqFault]) { groqFaults.append(contentsOf: list) }

    /// The fault to apply to this chat completion, if any (consuming one use of it).
    func nextGroqFault() -> GroqFault? {
        let fault = Self.takeOne(from: &groqFaults)
        if let fault { appliedFaults["groq.\(fault.kind.rawValue)", default: 0] += 1 }
        return fault
    }
    var groqLog: [String] { groqRequests }
    func account(_ igID: String) -> SandboxAccount? { accounts[igID] }

    func record(_ message: SandboxMessage, account igID: String) { conversations[igID, default: []].append(message) }

    func setUsername(_ name: String, customer: String) { usernames[customer] = name }

    /// The User Profile API's view of a customer of `igID`: only one who has written to it (as on Instagram), with the
    /// username the simulator gave, else `user_` and the id's last letters and digits; nil when the simulator said ""
    /// (no profile: a customer who blocked the business).
    func username(customer: String, account igID: String) -> String? {
        guard (conversations[igID] ?? []).contains(where: { $0.direction == "in" && $0.customerID == customer }) else { return nil }
        if let given = usernames[customer] { return given.isEmpty ? nil : given }
        return "user_" + String(customer.filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.suffix(12))
    }
    func messages(_ igID: String) -> [SandboxMessage] { conversations[igID] ?? [] }

    func addFaults(_ list: [Fault], account igID: String) { faults[igID, default: []].append(contentsOf: list) }

    /// The fault to apply to this send, if any (consuming one use of it).
    func nextFault(_ igID: String) -> Fault? {
        let fault = Self.takeOne(from: &faults[igID, default: []])
        if let fault { appliedFaults["graph.\(fault.kind.rawValue)", default: 0] += 1 }
        return fault
    }

    /// Drops every fault not applied yet (Graph and Groq); returns how many uses were dropped.
    func clearFaults() -> Int {
        let pending = faults.values.joined().reduce(0) { $0 + ($1.count ?? 1) } + groqFaults.reduce(0) { $0 + ($1.count ?? 1) }
        faults = [:]
        groqFaults = []
        return pending
    }

    /// One use of the first fault of a list: it stays while it has uses left (`count`, default 1).
    private static func takeOne<F: CountedFault>(from list: inout [F]) -> F? {
        guard var first = list.first else { return nil }
        let remaining = (first.count ?? 1) - 1
        if remaining > 0 {
            first.count = remaining
            list[0] = first
        } else {
            list.removeFirst()
        }
        return first
    }

    /// A message id shaped like Instagram's.
    func newMID() -> String {
        counter += 1
        return "aWdfZAG1faXRlbTox" + Data("sandbox:\(UUID().uuidString):\(counter)".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }
}
