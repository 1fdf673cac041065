/// Real payloads from `shared/reference/instagram-platform.md` §8, byte for byte.
package enum Fixtures {
    /// F1: inbound text DM, Instagram Login, raw compact body as received.
    package static let f1 = #"{"object":"instagram","entry":[{"time":1762022388574,"id":"17841400538867190","messaging":[{"sender":{"id":"1129842642640637"},"recipient":{"id":"17841400538867190"},"timestamp":1762022346848,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwNTM4ODY3MTkwOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1ODU5OTE3NTI2OTQwODg3NjozMjUwMzU3NTI4NDQ2NDA1ODQ5NjkyMTc3NjY5OTczNjA2NAZDZD","text":"OI"}}]}]}"#

    /// F2: read receipt.
    package static let f2 = #"{"entry": [{"id": "17841403506636395", "time": 1762011238035, "messaging": [{"read": {"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAzNTA2NjM2Mzk1OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1ODU5OTE3NTI2OTQwODg3NjozMjUwMzM2MTczNzg4MTI5NDExMzU3NjQ4OTczNTY4NDA5NgZDZD"}, "sender": {"id": "1092310252982105"}, "recipient": {"id": "17841403506636395"}, "timestamp": 1762010759340}]}], "object": "instagram"}"#

    /// F3: echo of a message the business sent.
    package static let f3 = #"{"object":"instagram","entry":[{"time":1766327110390,"id":"17841479961311534","messaging":[{"sender":{"id":"17841479961311534"},"recipient":{"id":"2095110131238447"},"timestamp":1766327107185,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDc5OTYxMzExNTM0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjAxNzI1MDE2Mzc1MjM1NDozMjU4Mjk4NDA5NjcwMDI1NzA2OTYzNTk5OTUyMjM1NzI0OAZDZD","text":"Aaaksh Badve Message Aa gaye","is_echo":true}}]}]}"#

    /// F4: customer shared a reel.
    package static let f4 = #"{"object":"instagram","entry":[{"time":1762146662163,"id":"17841477359317156","messaging":[{"sender":{"id":"1122050090040890"},"recipient":{"id":"17841477359317156"},"timestamp":1762146661491,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDc3MzU5MzE3MTU2OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjAyNDQyOTgzMjY2MzgwMTozMjUwNTg2ODQ4NDg3OTYwNDgzMzgxODYwNDU3MzAzMjQ0OAZDZD","attachments":[{"type":"ig_reel","payload":{"reel_video_id":"18389679349120387","title":"A top 5 rated burger in what we think is the best burger city in the world …","url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18389679349120387&signature=…"}}]}}]}]}"#

    /// F5: `message_edit` with `num_edit: 0`, no sender/recipient.
    package static let f5 = #"{"object":"instagram","entry":[{"time":1767963330978,"id":"17841458318357324","messaging":[{"timestamp":1767963330889,"message_edit":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDU4MzE4MzU3MzI0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI3NjExODk0MjI3MzE3ODI0MTozMjYxMzE2NDUzNzQyMzA0ODA3ODk1NzgxNjE4Mzc4MzQyNAZDZD","num_edit":0}}]}]}"#

    /// F6: App Dashboard test payload (changes-style, fake ids).
    package static let f6 = #"{"object":"instagram","entry":[{"id":"0","time":1661141837,"changes":[{"field":"messages","value":{"sender":{"id":"12334"},"recipient":{"id":"23245"},"timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}}]}]}"#
}
