import FlowtalkHTTP
import Foundation
import ReplyDecision
import ReplyRules

/// The answer of `POST /api/try`: what the customer would receive, in order, which path answered and why, and the
/// conversation's state to send back with the next message. `rule_id` and `hand_off_minutes` are null when unset.
struct TryOutcome: Encodable {
    struct Option: Encodable {
        let title: String
        let payload: String
    }
    struct Message: Encodable {
        let text: String
        var quick_replies: [Option] = []
        var buttons: [Option] = []
    }

    var messages: [Message] = []
    /// `rule`, `ice_breaker`, `ai`, `fallback`, `welcome`, `away`, `hand_off` or `none`.
    var path = "none"
    @Nullable var rule_id: String? = nil
    var explanation = ""
    @Nullable var hand_off_minutes: Int? = nil
    var state: TryController.State

    init(state: TryController.State) { self.state = state }

    /// What `plan` sends, and the state after it.
    mutating func record(_ plan: ReplyPlan, explanation: String, now: Date) {
        let options = plan.outgoingOptions.map { Option(title: $0.title, payload: $0.payload) }
        messages = plan.greetings.map { Message(text: ReplyTemplate.render($0.text, username: AutomationController.sampleUsername)) }
        if !plan.text.isEmpty {
            let text = plan.source == "ai" ? plan.text : ReplyTemplate.render(plan.text, username: AutomationController.sampleUsername)
            messages.append(
                Message(text: text, quick_replies: plan.optionKind == .quickReplies ? options : [], buttons: plan.optionKind == .buttons ? options : []))
        }
        path = plan.handOffMinutes != nil && plan.source != "rule" ? "hand_off" : plan.source
        rule_id = plan.ruleID?.uuidString.lowercased()
        hand_off_minutes = plan.handOffMinutes
        self.explanation = explanation
        for greeting in plan.greetings {
            switch greeting.kind {
            case .welcome: state.welcomed = true
            case .disclosure: state.disclosed = true
            case .away: state.away_at = TryController.text(now)
            }
        }
        if let minutes = plan.handOffMinutes { state.paused_until = TryController.text(now.addingTimeInterval(Double(minutes) * 60)) }
    }
}
