import FlowtalkCore
import FlowtalkStore
import Foundation

/// The account mails (verification, reset, change of email, security notices), queued as sealed `MailJob`s. Each says
/// what happened, when, and what to do if it was not you; links are `PUBLIC_URL` pages with the token as `token=`.
struct AccountMails: Sendable {
    let vault: TokenVault
    let publicURL: String

    /// How long a link to verify an address (at sign-up or for a change of email) works: a day, so a mail read the next
    /// morning still works; the link only proves the address, it grants no access.
    static let verificationLifetime: Duration = .seconds(24 * 3600)
    /// How long a password-reset link works: it grants the account, so 30 minutes.
    static let resetLifetime: Duration = .seconds(30 * 60)

    func job(_ mail: OutgoingMail) throws -> NewJob { try MailJob.make(mail, vault: vault) }

    func link(_ page: String, _ token: String) -> String { "\(publicURL)/\(page)?token=\(token)" }

    /// The moment, in words a reader anywhere understands: `2026-12-02 13:53 UTC`.
    static func now() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: Date())
    }

    func verify(to email: String, token: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Verify your email address for Flowtalk",
            text: """
                Someone (we hope you) signed up for Flowtalk with this address on \(Self.now()).

                To verify the address, open this link within 24 hours:
                \(link("verify-email", token))

                Until the address is verified you can sign in, but not connect Instagram.

                If this was not you, ignore this mail: without the link nobody can use this address with Flowtalk.
                """)
    }

    /// A sign-up for an address whose account is not verified yet: whoever signed up first knows its password, so the
    /// address's owner takes it over by choosing their own (a reset link), never by verifying it as it is.
    func finishSignUp(to email: String, token: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Finish signing up for Flowtalk",
            text: """
                On \(Self.now()) someone signed up for Flowtalk with this address, which already has an account that was
                never verified.

                If it was you: choose your password with this link within 30 minutes (it works once). That verifies the
                address and signs out every device, so nobody else who may have signed up with it keeps access:
                \(link("reset-password", token))

                If it was not you, ignore this mail.
                """)
    }

    func signupWithVerifiedAddress(to email: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Someone tried to sign up for Flowtalk with your address",
            text: """
                On \(Self.now()) someone tried to sign up for Flowtalk with this address, which already has an account.
                Nothing was changed.

                If it was you: sign in at \(publicURL)/ — or, if you forgot your password, choose "Forgot password?" there.

                If it was not you, you need not do anything; your account and password stay as they were.
                """)
    }

    func reset(to email: String, token: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Set a new Flowtalk password",
            text: """
                On \(Self.now()) someone asked to reset the password of the Flowtalk account with this address.

                To set a new password, open this link within 30 minutes (it works once):
                \(link("reset-password", token))

                Setting a new password signs out every device.

                If this was not you, ignore this mail: your password stays as it is.
                """)
    }

    func passwordChanged(to email: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Your Flowtalk password was changed",
            text: """
                The password of your Flowtalk account was changed on \(Self.now()).

                If this was you, you need not do anything.

                If this was not you, someone knows your password or can read your mail: set a new password now with
                "Forgot password?" at \(publicURL)/ (it signs out every device), and secure this mailbox.
                """)
    }

    func confirmNewEmail(to email: String, token: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Confirm your new email address for Flowtalk",
            text: """
                On \(Self.now()) someone asked to change the email of a Flowtalk account to this address.

                To confirm, open this link within 24 hours:
                \(link("confirm-email", token))

                The account's email changes only when the link is opened.

                If this was not you, ignore this mail: nothing changes without the link.
                """)
    }

    func changeToTakenAddress(to email: String) -> OutgoingMail {
        OutgoingMail(
            to: email, subject: "Someone tried to move a Flowtalk account to your address",
            text: """
                On \(Self.now()) someone asked to change the email of a Flowtalk account to this address, which already has
                an account. Nothing was changed.

                If it was you: an address can belong to one account only. Sign in to the account that has it at
                \(publicURL)/ (or use "Forgot password?" there).

                If it was not you, you need not do anything.
                """)
    }

    func emailChanged(to oldEmail: String, newEmail: String) -> OutgoingMail {
        OutgoingMail(
            to: oldEmail, subject: "Your Flowtalk email address was changed",
            text: """
                On \(Self.now()) the email address of your Flowtalk account was changed from this address to \(newEmail).
                Mail about the account now goes there, and you sign in with it.

                If this was you, you need not do anything.

                If this was not you, someone has your password: contact the operator of this Flowtalk deployment at once,
                and change the password of any other service where you use the same one.
                """)
    }
}
