//! The rules: which phrases read as instructions to a model, and in which places they count.

use regex::{Regex, RegexBuilder};

use super::{
    Answer, Class, Finding, Kind, Link, OutputError, Place, Segment, Source, Verdict, decode_text, segments,
};

fn regex(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 24)
        .build()
        .unwrap_or_else(|e| panic!("rule {pattern}: {e}"))
}

/// The compiled rules; build once, judge many answers.
#[derive(Debug)]
pub struct Judge {
    overrides: Regex,
    extraction: Regex,
    action: Regex,
    shell: Regex,
    addressed: Regex,
    addressed_model: Regex,
    /// Authority claims ("administrator notice"): instructions only when hidden or addressed
    /// to a model, since people post notices too.
    authority: Regex,
    secrecy: Regex,
    /// "pass its content as the `note` parameter": smuggling data through a tool call.
    pass_along: Regex,
    /// Reading something in order to use it: "read ~/.ssh/id_rsa", "include the chat history".
    reads: Regex,
    sensitive: Regex,
    about_attacks: Regex,
    base64_run: Regex,
    data_in_url: Regex,
}

impl Default for Judge {
    fn default() -> Self {
        Self::new()
    }
}

impl Judge {
    pub fn new() -> Self {
        Self {
            // Overrides, role and authority claims.
            overrides: regex(concat!(
                r"\b(ignore|disregard|forget|override|bypass|discard)\s+((all|any|the|your|of|these|those|every|earlier|prior|previous|above|preceding|original|system|existing|safety)\s+){1,4}(instructions?|prompts?|rules|directives?|guidelines|guardrails|constraints|policies)\b",
                r"|\bnew (system )?(instructions?|directives?|prompt|task)\b\s*[:\-]",
                r"|\[\s*(system|admin|administrator|developer|assistant)\s*\]",
                r"|<\|?\s*(system|im_start|im_end)\s*\|?>",
                r"|\byou are (now|no longer)\b",
                r"|\bfrom now on,? (you|the assistant)\b",
                r"|\b(important|urgent) (message|instructions?|notice) (for|to) (the )?(ai|assistant|model|agent|llm)\b",
                r"|\b(ai|assistant|model|agent|llm)s? (reading|processing|summari[sz]ing) this\b",
                r"|\bdo not (follow|obey) (the|your) (user|previous)\b",
            )),
            extraction: regex(concat!(
                r"\b(reveal|print|output|repeat|show|tell|share|leak|disclose|dump|display|list|return|include|write out|recite|send)\b[^.\n]{0,50}",
                r"\b(system prompt|system message|initial (prompt|instructions)|hidden instructions|your (instructions|prompt|rules|configuration)|(tool|function) (definitions|descriptions|schemas?|specs)|the (text|prompt|instructions) above|developer (message|instructions)|everything above)\b",
            )),
            action: regex(concat!(
                r"\b(call|invoke|use|run|execute|trigger)\b[^.\n]{0,30}\b(tool|function|command|plugin|action)\b",
                r"|\b(send|post|upload|forward|e-?mail|transmit|exfiltrate|submit)\b[^.\n]{0,80}\b(to|at|into)\b[^.\n]{0,40}(https?://|\b[\w.-]+@[\w.-]+|\bwebhook\b|\bendpoint\b)",
                r"|\b(run|execute|type|paste|enter)\b[^.\n]{0,30}(`|\bcurl\b|\bwget\b|\bbash\b|\bsh\b|\bpowershell\b|\bterminal\b|\bshell\b|\bcommand line\b)",
                r"|\b(read|open|cat|fetch|access)\b[^.\n]{0,30}(~/\.ssh|id_rsa|\.env\b|/etc/passwd|\.aws/credentials|mcp\.json|private key)",
            )),
            shell: regex(concat!(
                r"\b(curl|wget)\b[^\n|]{0,200}\|\s*(ba|z)?sh\b",
                r"|\brm\s+-rf\s+[/~]",
                r"|\bnc\b[^\n]{0,40}\s-e\s",
                r"|/dev/tcp/",
                r"|\bbash\s+-[ic]\b",
                r"|\bchmod\s+\+x\b[^\n]{0,80}&&",
                r"|\bpowershell\b[^\n]{0,40}-(enc|encodedcommand|e)\b",
                r"|\b(cat|tar|zip)\b[^\n]{0,60}(~/\.ssh|id_rsa|\.env|/etc/passwd|\.aws)[^\n]{0,80}\|\s*(curl|nc|wget)\b",
                r"|\bcurl\b[^\n]{0,120}(-d|--data|--data-binary|-F|-T|--upload-file)\b[^\n]{0,80}(@|\$\(|`)",
            )),
            addressed: regex(
                r"\b(you|your|assistant|ai|model|agent|llm|chatbot|claude|gpt|chatgpt|copilot|gemini)\b",
            ),
            authority: regex(
                r"\b(system|developer|admin(istrator)?) (override|directive|instruction|update|notice)s?\b",
            ),
            addressed_model: regex(
                r"\b(assistants?|ai|models?|agents?|llms?|chatbots?|claude|gpt|chatgpt|copilot|gemini|language model)\b",
            ),
            secrecy: regex(concat!(
                r"\b(do not|don't|never|without) (tell|telling|mention|mentioning|inform|informing|reveal|revealing|alert|alerting|notify|notifying|show|showing)\b[^.\n]{0,20}\b(the )?user\b",
                r"|<\s*important\s*>",
                r"|\bbefore (using|calling|you use|you call) this tool\b",
                r"|\b(the user|they) (must not|should not|shouldn't|won't) (know|see|notice)\b",
            )),
            reads: regex(
                r"\b(read|cat|open|load|access|include|attach|collect|copy)\b[^.\n]{0,40}(~/\.ssh/id_|\bid_(rsa|ed25519|ecdsa)\b|/etc/(passwd|shadow)|\.aws/credentials|mcp\.json|\.env\b|conversation history|chat history|system prompt)",
            ),
            pass_along: regex(
                r"\b(pass|put|include|send|add|append)\b[^.\n]{0,30}\b(its|the|their|file'?s?|whole)\b[^.\n]{0,20}\b(content|contents|value|text)\b[^.\n]{0,30}\b(as|in|into|to)\b",
            ),
            sensitive: regex(
                r"(~/\.ssh/id_|\bid_(rsa|ed25519|ecdsa)\b|/etc/(passwd|shadow)|\.aws/credentials|mcp\.json|\.env\b|\bconversation history\b|\bchat history\b|\bsystem prompt\b)",
            ),
            about_attacks: regex(
                r"\b(prompt injection|injection attacks?|jailbreak(s|ing)?|indirect injection|adversarial prompts?|owasp|red[- ]team(ing)?|security research|llm01)\b",
            ),
            base64_run: regex(r"[A-Za-z0-9+/_-]{24,}={0,2}"),
            data_in_url: regex(
                r"(\{[^}]{1,40}\}|\$\{?[A-Za-z_]+|%7B|\[[A-Z_]{3,}\]|\b(secret|token|password|passwd|api[_-]?key|history|conversation|chat|prompt|memory|context|data|payload|leak|exfil|session|cookie|ssh|cred(ential)?s?)=[^&#]{12,})",
            ),
        }
    }

    /// Judges one answer: every finding, in the order of the segments.
    pub fn judge(&self, answer: &Answer<'_>) -> Result<Vec<Finding>, OutputError> {
        Ok(self.verdict(answer)?.findings)
    }

    /// Judges one answer, keeping its decoded text for [`Verdict::stripped`].
    pub fn verdict(&self, answer: &Answer<'_>) -> Result<Verdict, OutputError> {
        let text = decode_text(answer)?;
        let kind = Kind::of(answer.content_type, &text);
        let (segments, links) = segments(kind, &text);
        let findings = self.judge_segments(&segments, &links, answer.host);
        Ok(Verdict { text, kind, findings })
    }

    /// Judges segments already cut.
    pub fn judge_segments(&self, segments: &[Segment], links: &[Link], host: &str) -> Vec<Finding> {
        let about_attacks = segments
            .iter()
            .filter(|s| matches!(s.place, Place::Visible | Place::Field(_)))
            .any(|s| self.about_attacks.is_match(&s.text));
        let mut findings = Vec::new();
        for segment in segments {
            self.judge_segment(segment, about_attacks, &mut findings);
        }
        // A page about these attacks shows their links as examples; only hidden ones count.
        for link in links.iter().filter(|l| l.hidden || !about_attacks) {
            if let Some(finding) = self.judge_link(link, host) {
                findings.push(finding);
            }
        }
        findings
    }

    fn judge_segment(&self, segment: &Segment, about_attacks: bool, out: &mut Vec<Finding>) {
        let text = normalise(&segment.text);
        let found = |re: &Regex| re.find(&text).map(|m| m.range());
        let mut push = |class: Class, rule: &'static str, span: std::ops::Range<usize>| {
            out.push(Finding {
                class,
                rule,
                place: segment.place.clone(),
                span,
                source: segment.source.clone(),
            });
        };
        match &segment.place {
            Place::Hidden(_) => {
                // Hidden text that reads as an instruction, whatever kind: nothing honest
                // addresses the model where the reader cannot see it.
                let instruction = found(&self.overrides)
                    .map(|s| ("hidden override", s))
                    .or_else(|| found(&self.extraction).map(|s| ("hidden extraction request", s)))
                    .or_else(|| found(&self.secrecy).map(|s| ("hidden secrecy", s)))
                    .or_else(|| found(&self.authority).map(|s| ("hidden authority claim", s)))
                    .or_else(|| {
                        found(&self.action)
                            .filter(|_| self.addressed.is_match(&text) || imperative(&text))
                            .map(|s| ("hidden action", s))
                    })
                    .or_else(|| found(&self.shell).map(|s| ("hidden shell command", s)));
                if let Some((rule, span)) = instruction {
                    push(Class::HiddenInstruction, rule, span);
                }
            }
            Place::ToolDescription => {
                let poison = found(&self.secrecy)
                    .map(|s| ("secrecy in a tool description", s))
                    .or_else(|| found(&self.overrides).map(|s| ("override in a tool description", s)))
                    .or_else(|| found(&self.extraction).map(|s| ("extraction in a tool description", s)))
                    .or_else(|| {
                        found(&self.sensitive)
                            .filter(|_| self.pass_along.is_match(&text) || self.reads.is_match(&text))
                            .map(|s| ("sensitive file in a tool description", s))
                    })
                    .or_else(|| found(&self.shell).map(|s| ("shell command in a tool description", s)));
                if let Some((rule, span)) = poison {
                    push(Class::ToolPoisoning, rule, span);
                }
            }
            Place::Visible | Place::Field(_) => {
                // Quoted attacks on a page about attacks are examples, not instructions.
                let quoted = |span: &std::ops::Range<usize>| about_attacks && is_quoted(&text, span);
                let claim = found(&self.authority).filter(|_| self.addressed_model.is_match(&text));
                if let Some(span) = found(&self.overrides).or(claim).filter(|s| !quoted(s)) {
                    push(Class::AddressedOverride, "override addressed to the model", span);
                } else if let Some(span) = found(&self.extraction).filter(|s| !quoted(s) && !about_attacks) {
                    push(
                        Class::PromptExtraction,
                        "asks for the prompt or tool definitions",
                        span,
                    );
                } else if let Some(span) = found(&self.action).filter(|s| {
                    !quoted(s)
                        && !about_attacks
                        && self.addressed_model.is_match(&text)
                        && imperative(&text[s.start..])
                }) {
                    push(Class::ToolOrCommand, "instructs the model to act", span);
                }
            }
            Place::Code => {}
        }
        // Encoded commands in any place but code: a base64 run that decodes to a shell
        // pipeline or an instruction.
        if segment.place != Place::Code {
            for run in self.base64_run.find_iter(&text) {
                let Some(decoded) = crate::detect::decode::base64::decode_run(run.as_str().as_bytes()) else {
                    continue;
                };
                let Ok(decoded) = std::str::from_utf8(&decoded) else {
                    continue;
                };
                if self.shell.is_match(decoded)
                    || self.overrides.is_match(decoded)
                    || self.action.is_match(decoded)
                {
                    push(
                        Class::EncodedCommand,
                        "base64 that decodes to a command",
                        run.range(),
                    );
                    break;
                }
            }
        }
    }

    fn judge_link(&self, link: &Link, host: &str) -> Option<Finding> {
        let url = url::Url::parse(link.url.trim()).ok()?;
        let target = url.host_str()?.to_ascii_lowercase();
        let origin = host.to_ascii_lowercase();
        let same_site = target == origin
            || target.ends_with(&format!(".{origin}"))
            || origin.ends_with(&format!(".{target}"))
            || registrable(&target) == registrable(&origin);
        if same_site || !(link.loads_itself || link.hidden) {
            return None;
        }
        let rest = &link.url[link.url.find(&target).map_or(0, |i| i + target.len())..];
        let data = self.data_in_url.find(rest).is_some() || long_opaque_value(&url);
        data.then_some(Finding {
            class: Class::ExfilLink,
            rule: "a self-loading URL carries data to another host",
            place: if link.hidden {
                Place::Hidden("link")
            } else {
                Place::Visible
            },
            span: 0..link.url.len(),
            source: link.source.clone(),
        })
    }
}

/// Markdown images (`![alt](url)`, which load by themselves) and links in `text`.
pub(super) fn markdown_links(text: &str, hidden: bool, source: &Source, links: &mut Vec<Link>) {
    let mut rest = text;
    while let Some(open) = rest.find("](") {
        let image = rest[..open]
            .rfind("![")
            .is_some_and(|b| !rest[b..open].contains(']'));
        let after = &rest[open + 2..];
        let Some(close) = after.find(|c: char| c == ')' || c.is_whitespace()) else {
            break;
        };
        let url = &after[..close];
        if url.starts_with("http://") || url.starts_with("https://") {
            links.push(Link {
                url: url.to_owned(),
                loads_itself: image,
                hidden,
                source: source.clone(),
            });
        }
        rest = &after[close..];
    }
}

/// The last two labels of a name (a good enough registrable domain for "same site").
fn registrable(host: &str) -> String {
    let labels: Vec<&str> = host.rsplit('.').take(2).collect();
    labels.into_iter().rev().collect::<Vec<_>>().join(".")
}

/// A query value of 24 or more characters that is not words: data being carried.
fn long_opaque_value(url: &url::Url) -> bool {
    url.query_pairs().any(|(_, v)| {
        v.len() >= 24
            && !v.contains(' ')
            && v.chars().filter(|c| c.is_ascii_digit()).count() * 5 >= v.len().min(200) / 2
    }) || url
        .path_segments()
        .is_some_and(|mut s| s.any(|seg| seg.len() >= 48))
}

/// Lowercase-insensitive matching is in the regexes; here runs of whitespace become one space
/// and typographic quotes plain ones, so that a phrase split over lines still reads as one.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c,
        };
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Whether the words at `span` are quoted (inside quotation marks, or introduced as an
/// example) rather than said.
fn is_quoted(text: &str, span: &std::ops::Range<usize>) -> bool {
    let before = &text[..span.start];
    // The phrase opens with a quotation mark of any kind ('…', "…", “…”, `…`).
    if before
        .trim_end()
        .ends_with(['\'', '"', '\u{201C}', '\u{2018}', '`', '«'])
    {
        return true;
    }
    let start = (0..=before.len().saturating_sub(60))
        .rev()
        .find(|&i| before.is_char_boundary(i))
        .unwrap_or(0);
    let window = &before[start..];
    let opens = window.matches(['"', '\u{201C}', '`']).count();
    opens % 2 == 1
        || [
            "e.g.",
            "for example",
            "such as",
            "like:",
            "phrases like",
            "instructions like",
            "payload",
            "attacker",
            "attackers",
        ]
        .iter()
        .any(|w| window.to_ascii_lowercase().contains(w))
}

/// Whether a sentence starts with (or holds) a bare imperative: an instruction rather than a
/// description.
fn imperative(text: &str) -> bool {
    const VERBS: &[&str] = &[
        "call",
        "invoke",
        "use",
        "run",
        "execute",
        "send",
        "post",
        "upload",
        "forward",
        "email",
        "read",
        "open",
        "fetch",
        "include",
        "append",
        "add",
        "visit",
        "go",
        "navigate",
        "click",
        "download",
        "install",
        "copy",
        "paste",
        "tell",
        "reply",
        "respond",
        "answer",
        "summarize",
        "summarise",
        "write",
        "delete",
        "transfer",
    ];
    text.split(['.', '!', '\n', ':', ';'])
        .filter_map(|sentence| sentence.split_whitespace().next())
        .any(|first| {
            let word = first
                .trim_matches(|c: char| !c.is_ascii_alphabetic())
                .to_ascii_lowercase();
            VERBS.contains(&word.as_str())
        })
}
