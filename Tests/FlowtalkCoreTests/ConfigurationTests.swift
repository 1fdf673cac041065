import FlowtalkCore
import Foundation
import Testing

@Suite struct ConfigurationTests {
    @Test func missingVariableIsNamed() {
        let environment = ConfigEnvironment([:])
        #expect(throws: ConfigurationError.missing("META_APP_SECRET")) { try environment.required("META_APP_SECRET") }
        #expect(ConfigurationError.missing("META_APP_SECRET").description == "missing required environment variable META_APP_SECRET")
        // Blank is the same as unset: never a silent empty secret.
        #expect(throws: ConfigurationError.missing("META_APP_SECRET")) { try ConfigEnvironment(["META_APP_SECRET": "  "]).requiredSecret("META_APP_SECRET") }
    }

    @Test func malformedNumbersAndBooleansAreNamed() {
        let environment = ConfigEnvironment(["PORT": "eighty", "COOKIE_SECURE": "maybe", "BIG": "70000"])
        #expect(throws: ConfigurationError.self) { try environment.int("PORT", default: 1) }
        #expect(throws: ConfigurationError.self) { try environment.int("BIG", default: 1, range: 0...65535) }
        #expect(throws: ConfigurationError.self) { try environment.bool("COOKIE_SECURE", default: true) }
        #expect((try? environment.int("UNSET", default: 8082)) == 8082)
        #expect((try? environment.bool("UNSET", default: true)) == true)
    }

    @Test func dotEnvParsing() {
        let parsed = ConfigEnvironment.parseDotEnv(
            """
            # comment
            export DATABASE_URL=postgres://u@h/db
            META_APP_SECRET="quoted value"
            EMPTY=
            NOEQUALS
              PORT = 8082
            """)
        #expect(parsed["DATABASE_URL"] == "postgres://u@h/db")
        #expect(parsed["META_APP_SECRET"] == "quoted value")
        #expect(parsed["PORT"] == "8082")
        #expect(parsed["EMPTY"] == "")
        #expect(parsed["NOEQUALS"] == nil)
    }

    @Test func processEnvironmentWinsOverDotEnv() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowtalk-\(UUID().uuidString).env").path
        try "PORT=1111\nHOST=10.0.0.1\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = ConfigEnvironment.load(processEnvironment: ["FLOWTALK_ENV_FILE": path, "PORT": "2222"])
        #expect(environment.optional("PORT") == "2222")
        #expect(environment.optional("HOST") == "10.0.0.1")
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("IGAA-very-secret")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("very-secret"))
    }

    @Test func urlsAreValidated() {
        let environment = ConfigEnvironment(["INSTAGRAM_GRAPH_URL": "ftp://x", "GOOD": "http://127.0.0.1:8090/"])
        #expect(throws: ConfigurationError.self) { try environment.url("INSTAGRAM_GRAPH_URL", default: "https://graph.instagram.com") }
        #expect((try? environment.url("GOOD", default: "x")) == "http://127.0.0.1:8090")
        #expect((try? environment.url("UNSET", default: "https://graph.instagram.com")) == "https://graph.instagram.com")
    }
}
