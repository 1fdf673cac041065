import FlowtalkCore
import Foundation
import NIOCore

/// One email to send: plain text, to one address.
package struct OutgoingMail: Codable, Sendable, Equatable {
    package var to: String
    package var subject: String
    /// The plain-text body. It may hold a single-use link (verification, reset): the job's payload is sealed for that reason.
    package var text: String

    package init(to: String, subject: String, text: String) {
        self.to = to
        self.subject = subject
        self.text = text
    }
}

/// Sends one email (auth enqueues it in the same transaction as what the mail tells of; auth's mail worker sends it).
///
/// The payload is sealed with the token vault: a mail can carry a reset link, and whoever reads the queue table must not
/// be able to use it. Mail jobs are not deduplicated: every request that asks for a mail gets one.
package enum MailJob {
    package static let kind = "mail.send"
    /// The sealed payload's owner (its associated data), so a payload copied from another kind of row does not open.
    package static let owner = TokenOwner(accountID: "flowtalk-mail", instagramUserID: "v1")

    package static func make(_ mail: OutgoingMail, vault: TokenVault) throws -> NewJob {
        let json = String(decoding: try JSONEncoder().encode(mail), as: UTF8.self)
        let sealed = try vault.seal(Secret(json), for: owner)
        return NewJob(kind: kind, payload: ByteBuffer(bytes: sealed), serializationKey: nil, maxAttempts: 10)
    }

    /// The mail in a job's payload; throws when it does not open with this vault or is not a mail.
    package static func mail(_ payload: ByteBuffer, vault: TokenVault) throws -> OutgoingMail {
        let opened = try vault.open(Array(payload.readableBytesView), for: owner)
        return try JSONDecoder().decode(OutgoingMail.self, from: Data(opened.value.utf8))
    }
}
