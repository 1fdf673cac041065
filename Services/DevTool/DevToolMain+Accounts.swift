import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import Foundation
import PostgresNIO

/// Signing in to `make run`'s accounts: the demo shop's password, and the sandbox account of the README's curl walkthrough.
extension DevToolMain {
    /// The sandbox's third Instagram account (`SANDBOX_ACCOUNTS` in scripts/run.sh), kept for the README's curl walkthrough:
    /// the sandbox's Instagram Login approves only @new_shop, which the dashboard steps connect.
    static let curlShopInstagramID = "17841400000000044"

    /// Gives the demo shop the sign-in `demo@flowtalk.local` / `DEMO_PASSWORD` (generated once per checkout into .env by
    /// scripts/dev-env.sh; development only) and a verified address. Nothing is written when both are so already, and
    /// nothing at all without `DEMO_PASSWORD`. The password is never printed here (`make run`'s banner shows it).
    static func setDemoLogin(_ environment: ConfigEnvironment, client: PostgresClient) async throws {
        guard let password = environment.optional("DEMO_PASSWORD") else { return }
        // A known sign-in must never reach a real deployment's database.
        guard environment.optional("FLOWTALK_ENV") == "development" else {
            throw ConfigurationError.malformed("DEMO_PASSWORD", "set only with FLOWTALK_ENV=development (a known sign-in is for make run)")
        }
        guard password.count >= 10 else { throw ConfigurationError.malformed("DEMO_PASSWORD", "expected at least 10 characters") }
        let hasher = try PasswordHasher(
            cost: try environment.int("BCRYPT_COST", default: 12, range: 10...16), pepper: try environment.requiredSecret("PASSWORD_PEPPER"))
        let accounts = AccountStore(client: Database(client), logger: logger)
        guard let (accountID, stored) = try await accounts.credentials(email: demoEmail) else { return }
        if hasher.verify(password, against: stored), try await accounts.emailVerified(accountID: accountID) { return }
        try await accounts.setDevelopmentLogin(passwordHash: try hasher.hash(password), accountID: accountID)
        print("the demo shop signs in as \(demoEmail) with DEMO_PASSWORD from .env")
    }

    /// `connect-sandbox email`: connects @curl_shop to the account with that (verified) address, with the token the
    /// sandbox knows it by (`SANDBOX_CURL_SHOP_TOKEN`), as Instagram Login would. Running it again for the same account is harmless.
    static func connectSandbox(_ environment: ConfigEnvironment, email: String) async throws {
        let address = email.trimmingCharacters(in: .whitespaces).lowercased()
        guard !address.isEmpty else {
            FileHandle.standardError.write(Data("usage: flowtalk-dev connect-sandbox email\n".utf8))
            exit(2)
        }
        guard environment.optional("FLOWTALK_ENV") == "development" else {
            throw ConfigurationError.malformed("FLOWTALK_ENV", "connect-sandbox is for development only (FLOWTALK_ENV=development)")
        }
        let vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        let token = try environment.requiredSecret("SANDBOX_CURL_SHOP_TOKEN")
        try await withMigratedClient(environment) { client in
            let accounts = AccountStore(client: Database(client), logger: logger)
            guard let (accountID, _) = try await accounts.credentials(email: address) else {
                print("no account has the address \(address): sign up first")
                exit(1)
            }
            guard try await accounts.emailVerified(accountID: accountID) else {
                print("verify \(address) first (Flowtalk connects Instagram only to a verified address)")
                exit(1)
            }
            let seeder = AccountSeeder(client: client, vault: vault, logger: logger)
            guard try await seeder.connect(accountID: accountID, instagramUserID: curlShopInstagramID, username: "curl_shop", token: token) else {
                print("@curl_shop is connected to another account already")
                exit(1)
            }
            print("connected @curl_shop (Instagram id \(curlShopInstagramID)) to \(address)")
        }
    }
}
