import FlowtalkCore
import FlowtalkStore
import PostgresNIO
import Testing

@Suite struct DatabaseURLTests {
    @Test func tcpURL() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgres://app:p%40ss@db.internal:6543/flowtalk?sslmode=require"))
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "app")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == "flowtalk")
    }

    @Test func unixSocketDirectoryBecomesTheSocketFile() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgresql://flowtalk@/flowtalk?host=/run/postgresql&port=5433"))
        #expect(configuration.unixSocketPath == "/run/postgresql/.s.PGSQL.5433")
        #expect(configuration.host == nil)
        #expect(configuration.username == "flowtalk")
    }

    @Test func searchPathBecomesAStartupParameter() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgres://u@127.0.0.1/db?search_path=tenant_a"))
        #expect(configuration.options.additionalStartupParameters.first?.0 == "search_path")
        #expect(configuration.options.additionalStartupParameters.first?.1 == "tenant_a")
        #expect(throws: ConfigurationError.self) { try DatabaseURL.configuration(Secret("postgres://u@127.0.0.1/db?search_path=x;drop")) }
    }

    @Test(arguments: ["mysql://u@h/db", "postgres://h/db", "not a url", "postgres://u:secret-pw@/db", "postgres://u@h:99999/db", "postgres://u@h/db?sslmode=bogus"])
    func malformedURLsNameTheVariableButNotThePassword(url: String) {
        do {
            _ = try DatabaseURL.configuration(Secret(url))
            Issue.record("accepted \(url)")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("DATABASE_URL"))
            #expect(!error.description.contains("secret-pw"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
