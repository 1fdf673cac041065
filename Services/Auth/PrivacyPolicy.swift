import FlowtalkHTTP
import Foundation
import PostgresNIO

/// The privacy policy page (`GET /privacy`): Resources/privacy.html, a resource of this executable read once at start,
/// with this deployment's facts filled in (`{{NAME}}` placeholders, values HTML-escaped).
struct PrivacyPolicy: Sendable {
    /// Bump the version and the date whenever the text's meaning changes: accounts that accepted an older version see a
    /// notice in the dashboard until they read the new one. `PrivacyPolicyTests` holds the text's digest to remind you.
    static let version = "4"
    static let lastUpdated = "2026-12-04"

    /// The deployment's facts the page names.
    struct Facts: Sendable {
        /// `OPERATOR_NAME`: who runs this deployment.
        var operatorName: String
        /// `PRIVACY_CONTACT`: where privacy requests go (an email address or a URL).
        var contact: String
        var publicURL: String
        /// The PostgreSQL host (from `DATABASE_URL`).
        var databaseHost: String
        /// The AI provider's host (from `GROQ_BASE_URL`, the same variable flowtalk-dispatch reads).
        var aiProvider: String
        /// The mail server's host (from `SMTP_URL`).
        var mailHost: String
    }

    /// The page as served.
    let html: String

    init(template: String, facts: Facts) throws {
        let values = [
            "OPERATOR_NAME": facts.operatorName, "PRIVACY_CONTACT": facts.contact, "VERSION": Self.version, "LAST_UPDATED": Self.lastUpdated,
            "DATABASE_HOST": facts.databaseHost, "AI_PROVIDER": facts.aiProvider, "MAIL_HOST": facts.mailHost, "PUBLIC_URL": facts.publicURL,
        ]
        var page = template
        for (name, value) in values { page = page.replacingOccurrences(of: "{{\(name)}}", with: Self.escape(value)) }
        if let left = page.range(of: "{{") { throw PolicyError.unknownPlaceholder(String(page[left.lowerBound...].prefix(40))) }
        html = page
    }

    /// The template shipped with the executable; a missing one stops the service at start.
    static func template() throws -> String {
        guard let url = Bundle.module.url(forResource: "privacy", withExtension: "html") else { throw PolicyError.missingTemplate }
        return try String(contentsOf: url, encoding: .utf8)
    }

    enum PolicyError: Error, CustomStringConvertible {
        case missingTemplate
        case unknownPlaceholder(String)
        var description: String {
            switch self {
            case .missingTemplate: "flowtalk-auth: its resource privacy.html is missing; reinstall it with the executable"
            case .unknownPlaceholder(let text): "privacy.html has a placeholder nobody fills: \(text)"
            }
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// The database host as the page names it: a Unix socket is "this machine"; an internal address is not shown.
    static func databaseHost(_ configuration: PostgresClient.Configuration) -> String {
        configuration.host.map { displayHost($0, what: "a PostgreSQL server") } ?? "a PostgreSQL server on the same machine"
    }

    /// A host as a public page may name it: a private, loopback or link-local address, `localhost` or a name without a
    /// dot (a container or cluster-internal name) becomes "<what> in this deployment's own network", so the page does not
    /// map the operator's internal network for anyone who reads it.
    static func displayHost(_ host: String, what: String) -> String {
        let lower = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let octets = lower.split(separator: ".").compactMap { UInt8($0) }
        let privateV4 =
            octets.count == 4
            && (octets[0] == 10 || octets[0] == 127 || (octets[0] == 172 && (16...31).contains(octets[1])) || (octets[0] == 192 && octets[1] == 168)
                || (octets[0] == 169 && octets[1] == 254) || (octets[0] == 100 && (64...127).contains(octets[1])))
        let privateV6 = lower.contains(":") && (lower == "::1" || lower.hasPrefix("fc") || lower.hasPrefix("fd") || lower.hasPrefix("fe80"))
        let internalName = !lower.contains(".") && !lower.contains(":")
        return privateV4 || privateV6 || internalName || lower == "localhost" || lower.hasSuffix(".local") || lower.hasSuffix(".internal.")
            ? "\(what) in this deployment's own network" : host
    }
}
