// The AI answer parser (AIAnswer.parse, parseContent): what dispatch reads from Groq's chat-completions response.
//
// Two readings of every input:
// - as a whole response body. Properties: a refusal is `malformedAnswer`; an answer that can help has a non-empty
//   reply without surrounding whitespace, one that cannot has none; token counts are never negative;
// - as the model's message content, wrapped in a real-shaped response. Properties: the body parser and the content
//   parser agree; a reply written back as the prompt's JSON ({"can_help":true,"reply":…}) reads back the same.
import AIReplies
import FlowtalkCore
import Foundation
import FuzzCheck

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(bytes(data, size))
    do {
        let answer = try AIAnswer.parse(input)
        validate(answer)
        check(answer.promptTokens >= 0 && answer.completionTokens >= 0, "negative token counts")
    } catch {
        check(error == .malformedAnswer, "unexpected error \(error)")
    }

    let content = String(decoding: input, as: UTF8.self)
    var body = Array(#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"#.utf8)
    JSONText.appendString(content, to: &body)
    body.append(contentsOf: #"},"finish_reason":"stop"}],"usage":{"prompt_tokens":412,"completion_tokens":37}}"#.utf8)
    let direct = AIAnswer.parseContent(content)
    let wrapped = try? AIAnswer.parse(body)
    check(wrapped.map { AIAnswer(canHelp: $0.canHelp, reply: $0.reply) } == direct, "body and content parsers disagree")
    if let wrapped { check(wrapped.promptTokens == 412 && wrapped.completionTokens == 37, "usage misread") }
    if let direct {
        validate(direct)
        if direct.canHelp {
            var again = Array(#"{"can_help":true,"reply":"#.utf8)
            JSONText.appendString(direct.reply, to: &again)
            again.append(UInt8(ascii: "}"))
            let reread = AIAnswer.parseContent(String(decoding: again, as: UTF8.self))
            check(reread == direct, "the reply does not survive being written back as JSON: \(show(direct.reply))")
        }
    }
    return 0
}

func validate(_ answer: AIAnswer) {
    if answer.canHelp {
        check(!answer.reply.isEmpty, "can help with an empty reply")
        check(answer.reply.trimmingCharacters(in: .whitespacesAndNewlines) == answer.reply, "reply keeps surrounding whitespace")
    } else {
        check(answer.reply.isEmpty, "cannot help but has a reply")
    }
}
