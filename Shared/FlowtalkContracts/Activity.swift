/// The states of a reply row (`replies.state`), stored as their raw strings.
///
/// `pending` (an AI answer reserved, nothing sent) → `sending` (committed before the Send API call) → `sent`, `failed`,
/// `unknown` (may have arrived: never sent again) or `retry` (refused for now, nothing delivered: the job's next run
/// sends again); `skipped` when it ends without a send.
package enum ReplyState: String, CaseIterable, Sendable {
    case pending, sending, retry, sent, failed, unknown, skipped

    /// Decided for good: no run changes it again (except an echo proving an `unknown` reply arrived).
    package var isFinal: Bool { [.sent, .failed, .unknown, .skipped].contains(self) }
}

/// What the activity log says happened to an event (`activity.outcome`); the dashboard has words for each.
package enum ActivityOutcome: String, CaseIterable, Sendable {
    case replied, skipped, failed, unknown, paused, ignored
}

/// Why an event got the outcome it got (`activity.reason`, and the `skipped:<reason>` counts); the dashboard has words
/// for each. Instagram's and the AI's reasons come from `GraphError.reason` and `AIError.reason` and are listed here too,
/// so the dashboard's words can be checked against one list; `graph_error_<code>` and `partly_sent_<reason>` are
/// families the dashboard words by pattern.
package enum ActivityReason: String, CaseIterable, Sendable {
    // The decision (in the order it is taken).
    case fromBusiness = "from_business", needsReconnect = "needs_reconnect", outsideWindow = "outside_window"
    case humanActive = "human_active", cooldown, noRule = "no_rule", noText = "no_text", attachmentOnly = "attachment_only"
    // The AI path.
    case aiNotConfigured = "ai_not_configured", aiDisabled = "ai_disabled", aiConversationLimit = "ai_conversation_limit"
    case aiBudgetExhausted = "ai_budget_exhausted", aiCircuitOpen = "ai_circuit_open", aiCannotHelp = "ai_cannot_help"
    case aiTimeout = "ai_timeout", aiRateLimited = "ai_rate_limited", aiServerError = "ai_server_error", aiUnreachable = "ai_unreachable"
    case aiAuthFailed = "ai_auth_failed", aiRejected = "ai_rejected", aiMalformedAnswer = "ai_malformed_answer"
    // Sending (Instagram's answers) and what a later run or an echo found.
    case tokenInvalid = "token_invalid", tokenUnreadable = "token_unreadable", recipientUnavailable = "recipient_unavailable"
    case rateLimited = "rate_limited", transientError = "transient_error", noAnswer = "no_answer", malformedResponse = "malformed_response"
    case interruptedWhileSending = "interrupted_while_sending", confirmedByEcho = "confirmed_by_echo"
    case ruleRemoved = "rule_removed", fallbackRemoved = "fallback_removed"
    // Events that need no reply.
    case humanReply = "human_reply", messageDeleted = "message_deleted", incompleteEvent = "incomplete_event"
    case editWithoutText = "edit_without_text"
    /// The business paused the bot for one customer from the dashboard, or turned it back on.
    case ownerPaused = "owner_paused", ownerResumed = "owner_resumed"
    /// A hand-off rule's reply went out: the conversation waits for a person, the bot paused.
    case handOff = "hand_off"
    /// The AI could not help and the account hands such conversations to a person (`ai_hand_off`) instead of the fallback.
    case aiHandOff = "ai_hand_off"
    /// Outside business hours, with rules and the AI not answering then, and the away message already sent.
    case outOfHours = "out_of_hours"

    /// The families of reasons with a variable part.
    package static let patternPrefixes = ["graph_error_", "partly_sent_"]
}

/// The names of the hourly counts dispatch writes and analytics reads (`hourly_counts.metric`).
package enum CountMetric {
    package static let received = "received"
    package static let unknown = "unknown"
    package static let failed = "failed"
    package static let humanReplies = "human_replies"
    package static let handOffs = "hand_offs"
    /// Reactions customers gave the bot's messages.
    package static let reactions = "reactions"
    /// A tap on option `position` (0-based) of rule `ruleID`'s quick replies or buttons.
    package static func option(_ ruleID: String, _ position: Int) -> String { optionPrefix + ruleID + ":" + String(position) }
    /// A once-only message sent: `greeting:disclosure`, `greeting:welcome`, `greeting:away`.
    package static func greeting(_ kind: String) -> String { greetingPrefix + kind }
    package static func replied(source: String) -> String { "replied_\(source)" }
    package static func skipped(_ reason: String) -> String { skippedPrefix + reason }
    package static func rule(_ id: String) -> String { rulePrefix + id }
    package static func fallback(_ reason: String) -> String { fallbackPrefix + reason }
    package static func iceBreaker(_ position: Int) -> String { iceBreakerPrefix + String(position) }

    package static let skippedPrefix = "skipped:"
    package static let rulePrefix = "rule:"
    package static let fallbackPrefix = "fallback:"
    package static let iceBreakerPrefix = "ice_breaker:"
    package static let optionPrefix = "option:"
    package static let greetingPrefix = "greeting:"
}

/// Webhook→reply latency kept as hourly bucket counts (`latency_le:<ms>`, and `latency_le:inf`), so the statistics'
/// percentiles come from the counts alone, for any range, without reading the activity log (issue 17).
package enum LatencyHistogram {
    /// Upper bounds in milliseconds (inclusive), roughly ×1.5 apart: a percentile is exact to within its bucket. They are
    /// part of the stored counts (and of migration 25's backfill): add a bound only above the last, never change one.
    package static let bounds = [
        10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 30_000, 60_000,
    ]
    package static let prefix = "latency_le:"

    /// The same bucket's metric name computed in SQL from an integer column (a migration's backfill).
    package static func sqlBucket(_ column: String) -> String {
        "CASE " + bounds.map { "WHEN \(column) <= \($0) THEN '\(prefix)\($0)'" }.joined(separator: " ") + " ELSE '\(prefix)inf' END"
    }

    /// The count a reply sent after `milliseconds` adds.
    package static func metric(_ milliseconds: Int) -> String {
        prefix + (bounds.first { milliseconds <= $0 }.map(String.init) ?? "inf")
    }

    /// The `q` percentile (0…1) of the latencies counted in `metrics` (any hourly counts; the buckets are picked out),
    /// interpolated within its bucket as Prometheus' `histogram_quantile` does; the top bucket answers its lower bound.
    /// Nil when nothing was counted. Also the number of samples.
    package static func percentiles(_ qs: [Double], in metrics: [String: Int]) -> (values: [Double?], samples: Int) {
        var counts = [Int](repeating: 0, count: bounds.count + 1)
        for (metric, count) in metrics where metric.hasPrefix(prefix) {
            let bound = metric.dropFirst(prefix.count)
            if bound == "inf" { counts[bounds.count] += count } else if let value = Int(bound), let index = bounds.firstIndex(of: value) { counts[index] += count }
        }
        let total = counts.reduce(0, +)
        guard total > 0 else { return (qs.map { _ in nil }, 0) }
        let values = qs.map { q -> Double? in
            let rank = q * Double(total)
            var below = 0
            for (index, count) in counts.enumerated() where count > 0 {
                if Double(below + count) >= rank {
                    let lower = index == 0 ? 0 : Double(bounds[index - 1])
                    guard index < bounds.count else { return lower }
                    return lower + (Double(bounds[index]) - lower) * max(0, rank - Double(below)) / Double(count)
                }
                below += count
            }
            return Double(bounds.last!)
        }
        return (values, total)
    }
}
