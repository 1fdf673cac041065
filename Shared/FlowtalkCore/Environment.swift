import Foundation

/// Why the configuration could not be read; the message names the variable, never its value.
package enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case malformed(String, String)

    package var description: String {
        switch self {
        case .missing(let name): "missing required environment variable \(name)"
        case .malformed(let name, let expected): "environment variable \(name) is malformed: \(expected)"
        }
    }
}

/// The process environment, with an optional `.env` file underneath it (the process environment wins).
package struct ConfigEnvironment: Sendable {
    /// Every variable that is set.
    package let values: [String: String]

    /// An environment from explicit values (tests).
    package init(_ values: [String: String]) { self.values = values }

    /// The process environment over the `.env` file in the working directory (or `FLOWTALK_ENV_FILE`), if there is one.
    package static func load(processEnvironment: [String: String] = ProcessInfo.processInfo.environment) -> ConfigEnvironment {
        let path = processEnvironment["FLOWTALK_ENV_FILE"] ?? ".env"
        var merged: [String: String] = [:]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            merged = parseDotEnv(text)
        }
        merged.merge(processEnvironment) { _, process in process }
        return ConfigEnvironment(merged)
    }

    /// Parses `KEY=value` lines; `#` comments, blank lines and `export ` prefixes are allowed, values may be quoted.
    package static func parseDotEnv(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            if !key.isEmpty { result[key] = value }
        }
        return result
    }

    /// A variable's value, treating an empty value as unset.
    package func optional(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// A variable that must be set.
    package func required(_ name: String) throws -> String {
        guard let value = optional(name) else { throw ConfigurationError.missing(name) }
        return value
    }

    /// A secret that must be set; it is only ever held wrapped.
    package func requiredSecret(_ name: String) throws -> Secret<String> {
        Secret(try required(name))
    }

    /// An integer within bounds, or the default when unset.
    package func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let text = optional(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError.malformed(name, "expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A boolean (`true/false/1/0/yes/no`), or the default when unset.
    package func bool(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let text = optional(name)?.lowercased() else { return defaultValue }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError.malformed(name, "expected true or false")
        }
    }

    /// An absolute http(s) URL without a trailing slash, or the default when unset.
    package func url(_ name: String, default defaultValue: String) throws -> String {
        let text = optional(name) ?? defaultValue
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw ConfigurationError.malformed(name, "expected an absolute http(s) URL")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}

/// `FLOWTALK_ENV`: `development` is the only mode that allows plain HTTP, plain SMTP on loopback and insecure cookies;
/// anything else (the default, `production`) requires TLS wherever a secret or a session crosses a network.
package enum DeploymentMode: String, Sendable, Equatable {
    case development
    case production

    package var isDevelopment: Bool { self == .development }
}

extension ConfigEnvironment {
    /// Reads `FLOWTALK_ENV` (`development` or `production`; unset is production).
    package func deploymentMode() throws -> DeploymentMode {
        guard let text = optional("FLOWTALK_ENV")?.lowercased() else { return .production }
        guard let mode = DeploymentMode(rawValue: text) else {
            throw ConfigurationError.malformed("FLOWTALK_ENV", "expected development or production")
        }
        return mode
    }
}
