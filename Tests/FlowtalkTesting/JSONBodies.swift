import Foundation
import NIOCore

/// A JSON response body decoded as `type`: tests compare values, not text, so key order and spacing do not matter.
package func decodeJSON<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws -> T {
    try JSONDecoder().decode(type, from: Data(body.readableBytesView))
}

/// A JSON text decoded as `type`.
package func decodeJSON<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(text.utf8))
}

/// The settings as `GET /api/settings` answers them (`{"settings": …}`).
package struct SettingsBody: Decodable, Equatable, Sendable {
    package struct Settings: Decodable, Equatable, Sendable {
        package let cooldown_seconds: Int
        package let human_pause_minutes: Int
        package let ai_enabled: Bool
        package let business_description: String
        package let ai_tone: String
        package let fallback_text: String
        package let ai_memory: Bool
        package let ai_daily_budget: Int

        package init(cooldown_seconds: Int, human_pause_minutes: Int, ai_enabled: Bool, business_description: String, ai_tone: String,
                     fallback_text: String, ai_memory: Bool, ai_daily_budget: Int) {
            self.cooldown_seconds = cooldown_seconds
            self.human_pause_minutes = human_pause_minutes
            self.ai_enabled = ai_enabled
            self.business_description = business_description
            self.ai_tone = ai_tone
            self.fallback_text = fallback_text
            self.ai_memory = ai_memory
            self.ai_daily_budget = ai_daily_budget
        }
    }
    package let settings: Settings
}

/// The error every route answers with: `{"error": {"code", "message"}}`.
package struct ErrorBody: Decodable, Sendable {
    package struct Detail: Decodable, Sendable {
        package let code: String
        package let message: String
    }
    package let error: Detail
}

/// `GET /api/auth/me`: the signed-in account and its Instagram connection, if any.
package struct MeBody: Decodable, Sendable {
    package struct Account: Decodable, Sendable {
        package let id: String
        package let email: String
        package let instagram: Instagram?
    }
    package struct Instagram: Decodable, Sendable {
        package let username: String?
        package let instagram_user_id: String
        package let status: String
    }
    package let account: Account
}
