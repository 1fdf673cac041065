/// The payload a quick reply or button carries to Instagram and back when it is tapped: which rule's option it was
/// (for the statistics) and which rule answers it. `FT1:<rule id>:<position>:<next rule id>`, ids lower-case.
package enum OptionPayload {
    package struct Tap: Sendable, Equatable {
        /// The rule whose answer showed the option, and the option's place (0-based) among its options.
        package let ruleID: String
        package let position: Int
        /// The rule that answers the tap.
        package let nextRuleID: String

        package init(ruleID: String, position: Int, nextRuleID: String) {
            self.ruleID = ruleID
            self.position = position
            self.nextRuleID = nextRuleID
        }
    }

    package static func make(ruleID: String, position: Int, nextRuleID: String) -> String { "FT1:\(ruleID):\(position):\(nextRuleID)" }

    /// The tap a payload names; nil for any other payload (an Ice Breaker's, or one another tool made).
    package static func parse(_ payload: String?) -> Tap? {
        guard let payload, payload.utf8.count <= 120, payload.hasPrefix("FT1:") else { return nil }
        let parts = payload.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, let position = Int(parts[2]), (0..<13).contains(position), isID(parts[1]), isID(parts[3]) else { return nil }
        return Tap(ruleID: String(parts[1]), position: position, nextRuleID: String(parts[3]))
    }

    /// A lower-case UUID's shape (36 characters of hex digits and dashes).
    private static func isID(_ text: Substring) -> Bool {
        text.utf8.count == 36 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D }
    }
}
