import Foundation

/// The most common passwords (CommonPasswordList.swift, generated from zxcvbn's list, origin named there), refused at
/// sign-up, reset and change, and served to the dashboard's strength meter (`GET /api/password-list`).
enum CommonPasswords {
    /// Lower-cased, read once.
    static let list: Set<Substring> = Set(text.split(separator: "\n"))

    /// True for a listed password, a listed one dressed with at most six digits or symbols around it
    /// ("Password2024!", "!!dragon12", "monkey123456"), or one character repeated.
    static func isCommon(_ password: String) -> Bool {
        let lower = password.lowercased()
        if list.contains(Substring(lower)) { return true }
        if Set(lower).count <= 1 { return true }
        let dressing = CharacterSet.letters.inverted
        let core = lower.trimmingCharacters(in: dressing)
        return core.count >= 4 && lower.count - core.count <= 6 && list.contains(Substring(core))
    }

    /// The list as served to the dashboard: one password per line.
    static var body: String { text }
}
