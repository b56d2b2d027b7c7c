//! The rules: which phrases read as instructions to a model, and in which places they count.

use regex::{Regex, RegexBuilder};

use super::{
    Answer, Class, Finding, Kind, Link, OutputError, Place, Segment, Source, Verdict, decode_text, segments,
};

fn regex(pattern: &str) -> Regex {
    // ASCII word boundaries: the lazy DFA handles them on any haystack (a Unicode `\b` makes
    // it give up at the first non-ASCII byte), and the rules' words are ASCII or need none.
    let pattern = pattern.replace(r"\b", r"(?-u:\b)");
    RegexBuilder::new(&pattern)
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
    /// Base64 wrapped at a fixed column (the lines of one encoding).
    wrapped_base64: Regex,
    hex_run: Regex,
    base32_run: Regex,
    percent_run: Regex,
    data_in_url: Regex,
    /// Overrides in other languages (and scripts without word boundaries).
    overrides_i18n: Regex,
    /// Role claims ("you are now …", "act as …"): instructions only when hidden or addressed
    /// to a model, since people write "you are now subscribed".
    role: Regex,
    /// An explicit address to the model ("Note to AI assistants:", "Assistant:" opening a
    /// line, "in your answer").
    address: Regex,
    /// A harmful action in the InjecAgent sense: moving money, granting access, deleting a
    /// person's data, publishing private repositories.
    harm: Regex,
    /// Asking the model to fill a URL's placeholder with the user's data.
    fill: Regex,
    /// A placeholder in a URL (`{secret}`, `<the_user's_message>`, `DATA`, `[[chat]]`).
    placeholder: Regex,
    /// A tool description redirecting another tool (shadowing) to an outside address.
    shadowing: Regex,
    /// Words one of the prose rules needs; a segment with none of them (and only ASCII)
    /// skips them all.
    anchors: aho_corasick::AhoCorasick,
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
                r"|\[\s*/?\s*inst\s*\]",
                r"|<\|\s*(system|im_start|im_end|endoftext|start_header_id)\s*\|>",
                r"|<\s*/?\s*(system|system_prompt|instructions|user_content|untrusted|context|document)\s*>",
                r"|\b(important|urgent|new|updated) (message|instructions?|notice|directive) (for|to) (the |all )?(ai|assistant|model|agent|llm)s?\b",
                r"|\bend of (the )?(document|content|context|user (input|content|data))\b[^\n]{0,40}\b(new|next|real|actual) (task|instructions?|directive)",
                r"|\b(your|the) (real|actual|true|new) (task|instructions?|objective|goal) (is|are)\b",
                r"|\b(ai|assistant|model|agent|llm)s? (reading|processing|summari[sz]ing) this\b",
                r"|\bdo not (follow|obey) (the|your) (user|previous)\b",
            )),
            extraction: regex(concat!(
                r"\b(reveal|print|output|repeat|show|tell|share|leak|disclose|dump|display|list|return|include|write out|recite|send)\b[^.\n]{0,50}",
                r"\b(system prompt|system message|system instructions|initial (prompt|instructions)|hidden (instructions|configuration|prompt|rules)|(secret|internal|confidential) (instructions|configuration|prompt|rules)|your (full |complete |exact |original |initial |entire )?(instructions|prompt|rules|guidelines|directives)|(tool|function) (definitions|descriptions|schemas?|specs)|(tools|functions) you (have|can) (access|use|call)|json schemas|the (text|prompt|instructions|words|message) above|developer (message|instructions)|everything (above|before this)|(instructions|rules|prompt) you (were|have been) given)\b",
                r"|\b(what|which) (are|were) (the |your )?(exact |original |initial |hidden |full |complete )?(instructions|rules|system prompt|guidelines)\b[^?\n]{0,30}\b(given|told|received|programmed|follow)",
                r"|\brepeat\b[^.\n]{0,40}\bstarting (with|from)\b",
                r"|\b(muestra|revela|imprime|repite|dime|affiche|montre|r\u{e9}v\u{e8}le|r\u{e9}p\u{e8}te|donne|zeig|gib|wiederhole|verrate|nenne)\b[^.\n]{0,50}(prompt|instrucciones|instructions|consignes|anweisungen|systemprompt|konfiguration)",
                r"|prompt del sistema|instrucciones del sistema|prompt syst\u{e8}me|instructions syst\u{e8}me|system-?prompt|systemanweisung",
                r"|\u{441}\u{438}\u{441}\u{442}\u{435}\u{43c}\w* (\u{43f}\u{440}\u{43e}\u{43c}\u{43f}\w*|\u{43f}\u{43e}\u{434}\u{441}\u{43a}\u{430}\u{437}\w*|\u{438}\u{43d}\u{441}\u{442}\u{440}\u{443}\u{43a}\u{446}\w*)",
                r"|\u{7cfb}\u{7edf}(\u{63d0}\u{793a}|\u{6307}\u{4ee4})|\u{7cfb}\u{7d71}\u{63d0}\u{793a}|\u{30b7}\u{30b9}\u{30c6}\u{30e0}\u{30d7}\u{30ed}\u{30f3}\u{30d7}\u{30c8}|\u{30b7}\u{30b9}\u{30c6}\u{30e0}\u{6307}\u{793a}",
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
            wrapped_base64: regex(r"(?:[A-Za-z0-9+/]{40,}\s+)+[A-Za-z0-9+/]{4,}={0,2}"),
            hex_run: regex(r"\b(?:[0-9a-fA-F]{2}[ :]?){16,}\b"),
            base32_run: regex(r"\b[A-Z2-7]{32,}={0,6}"),
            percent_run: regex(r"(?:%[0-9A-Fa-f]{2}[A-Za-z0-9._~-]{0,3}){8,}"),
            overrides_i18n: regex(concat!(
                // Verb, then (within a clause) "previous/all …" and an instructions noun, in
                // English, Spanish, French, German, Portuguese, Italian and Russian.
                r"((?-u:\b)(ignore[rsz]?|ignora[rn]?|ignoriere|ignorieren|ignorar|disregard|forget|forgot|olvida|olvidad|oublie[rz]?|vergiss|vergessen|omite|descarta|dimentica)(?-u:\b)|(\u{438}\u{433}\u{43d}\u{43e}\u{440}\u{438}\u{440}\u{443}\w*|\u{437}\u{430}\u{431}\u{443}\u{434}\w*))",
                r"[^.\n]{0,40}(previous|prior|above|earlier|preceding|all|todas|anteriores|previas|toutes|tous|pr\u{e9}c\u{e9}dentes|ant\u{e9}rieures|alle|vorherigen|bisherigen|obigen|vorigen|precedenti|\u{43f}\u{440}\u{435}\u{434}\u{44b}\u{434}\u{443}\u{449}\w*|\u{432}\u{441}\u{435}|\u{43f}\u{440}\u{435}\u{436}\u{43d}\w*)",
                r"[^.\n]{0,30}(instructions?|instrucciones|instru\u{e7}\u{f5}es|istruzioni|consignes|directives|anweisungen|instruktionen|vorgaben|regeln|\u{438}\u{43d}\u{441}\u{442}\u{440}\u{443}\u{43a}\u{446}\w*|\u{443}\u{43a}\u{430}\u{437}\u{430}\u{43d}\w*)",
                r"|(?-u:\b)(ignore[rsz]?|ignora[rn]?|olvida|oublie[rz]?)[^.\n]{0,20}(instructions|instrucciones|consignes)[^.\n]{0,6}(anteriores|pr\u{e9}c\u{e9}dentes|previas)",
                r"|(?-u:\b)(nuevas instrucciones|nouvelles instructions|neue anweisungen)\s*:",
                // Chinese and Japanese: ignore / forget the previous (or all) instructions.
                r"|(\u{5ffd}\u{7565}|\u{65e0}\u{89c6}|\u{5fd8}\u{8bb0}|\u{5fd8}\u{6389}|\u{4e0d}\u{8981}\u{7406}\u{4f1a})[^\u{3002}\n]{0,12}(\u{6307}\u{4ee4}|\u{6307}\u{793a}|\u{8bf4}\u{660e}|\u{89c4}\u{5219}|\u{63d0}\u{793a})",
                r"|(\u{6307}\u{793a}|\u{547d}\u{4ee4}|\u{6307}\u{4ee4}|\u{30eb}\u{30fc}\u{30eb})[^\u{3002}\n]{0,6}(\u{3092}|\u{306f})?(\u{3059}\u{3079}\u{3066})?(\u{7121}\u{8996}|\u{5fd8}\u{308c})",
            )),
            role: regex(concat!(
                r"\byou are (now|no longer)\b",
                r"|\bfrom now on,? (you|the assistant)\b",
                r"|\b(act|behave|respond) as (an? )?(unrestricted|unfiltered|jailbroken|different|new)\b",
                r"|\bdeveloper mode\b|\bDAN\b",
                r"|\[\s*(system|admin|administrator|developer|assistant)\s*\]",
            )),
            address: regex(concat!(
                r"\b(note|message|instructions?|attention|reminder|notice|memo|hint|request)s? (to|for) (all |any )?(the )?(ai|assistant|language model|model|llm|agent|bot|chatbot|copilot)s?\b",
                r"|(^|[\n>*:]\s*)(ai|assistant|ai assistant|agent|llm|model)\s*:",
                r"|\b(dear|hey|hi|attention) (ai|assistant|agent|llm|chatgpt|claude|model)\b",
                r"|\b(if|when) you are an? (ai|assistant|language model|llm|agent|bot)\b",
                r"|\b(in|at the end of|before|after) your (answer|reply|response|summary|output)\b",
                r"|\byour (file[- ]?reading|browsing|email|shell|code[- ]execution|terminal|http|web) tools?\b",
            )),
            harm: regex(concat!(
                r"\b(transfer|wire|send|pay|move)\b[^.\n]{0,30}([$\u{20ac}\u{a3}]\s?\d|\d[\d,.]*\s?(usd|eur|gbp|dollars|euros|btc|eth|bitcoin))[^.\n]{0,80}\b(account|iban|wallet|address)\b",
                r"|\b(grant|give|share|add)\b[^.\n]{0,60}\b(access|permissions?|admin( rights)?|ownership|owner|collaborator)\b[^.\n]{0,80}\b(lock|door|garage|repo|repository|account|drive|folder|vault|calendar)\b",
                r"|\b(delete|remove|wipe|erase|cancel|archive)\b\s+(all|every)\b[^.\n]{0,40}\b(events?|e-?mails?|messages?|contacts|appointments|meetings|repositories|repos|photos|documents|backups|files in my|invitations)\b",
                r"|\b(make|set|change)\b[^.\n]{0,40}\b(private )?(repo|repository|repositories)\b[^.\n]{0,30}\bpublic\b",
                r"|\b(read|list|fetch|collect|gather)\b[^.\n]{0,60}\bprivate (repo|repository|repositories)\b",
                r"|\b(change|reset|disable)\b[^.\n]{0,30}\b(password|2fa|two-factor|mfa)\b[^.\n]{0,40}\b(to|for|of)\b",
            )),
            fill: regex(concat!(
                r"\b(replace|replacing|fill|filling|substitute|insert|encode|append)\b[^\n]{0,120}",
                r"\b(the user'?s|users'|user's|conversation|chat|last message|previous message|chat history|history|secrets?|passwords?|api keys?|credentials|context window|memory|summary of)\b",
                r"|\bplaceholder\b",
            )),
            placeholder: regex(concat!(
                r"\{\{?[^}/]{1,40}\}\}?|<[^>]{2,60}>|\[\[?[A-Za-z_ '\-]{3,}\]\]?|%[A-Z_]{3,}%|\$\{?[A-Za-z_]{3,}",
                r"|[=/](?-u:\b)[A-Z][A-Z0-9]*_[A-Z0-9_]+(?-u:\b)|=(DATA|SECRET|CONTEXT|CHAT|HISTORY|MESSAGE|PAYLOAD|SUMMARY|INPUT|EMAIL|PROMPT|MEMORY|INFO)(?-u:\b)",
            )),
            shadowing: regex(concat!(
                r"\b(bcc|cc|forward|redirect|copy|also send|always send|must send|send all|instead)\b[^\n]{0,80}([\w.+-]+@[\w-]+\.[\w.-]+|https?://)",
                r"|([\w.+-]+@[\w-]+\.[\w.-]+)[^\n]{0,80}\b(bcc|cc|instead|always|every|all (e-?mails|messages|events|invitations))\b",
                r"|\b(when(ever)?|each time|every time|before|after)\b[^.\n]{0,40}\b(use|call|invoke|using|calling)s?\b[^.\n]{0,30}`?\w+`? tool\b[^.\n]{0,60}\b(also|always|must|instead|first|additionally)\b",
            )),
            anchors: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(ANCHORS)
                .expect("anchors"),
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
        if self.clean_at_a_glance(&text) {
            return Ok(Verdict {
                text,
                kind,
                findings: Vec::new(),
            });
        }
        let (segments, links) = segments(kind, &text);
        let findings = self.judge_segments(&segments, &links, answer.host);
        Ok(Verdict { text, kind, findings })
    }

    /// Whether no rule can fire on `text`, seen whole, so that it need not be cut at all:
    /// ASCII with nothing that decodes into other words (no entity, escape or percent sign),
    /// no absolute URL (no link can carry data to another host), no run long enough to be
    /// encoded, and none of the anchor words every prose rule needs. Each segment is a piece
    /// of such a text, so each would be skipped by the same tests in `judge_segment`.
    fn clean_at_a_glance(&self, text: &str) -> bool {
        text.is_ascii()
            && !text.bytes().any(|b| matches!(b, b'&' | b'\\' | b'%'))
            && memchr::memmem::find(text.as_bytes(), b"://").is_none()
            && !has_long_run(text.as_bytes())
            && !self.anchors.is_match(text)
    }

    /// Judges segments already cut.
    pub fn judge_segments(&self, segments: &[Segment<'_>], links: &[Link], host: &str) -> Vec<Finding> {
        // Whether the page is about these attacks: asked only when a rule would fire, since
        // most pages never need the answer.
        let about = std::cell::OnceCell::new();
        let about_attacks = || {
            *about.get_or_init(|| {
                segments
                    .iter()
                    .filter(|s| matches!(s.place, Place::Visible | Place::Field(_)))
                    .any(|s| self.about_attacks.is_match(&s.text))
            })
        };
        let mut findings = Vec::new();
        // The segments that ask the model to fill a URL with the user's data.
        let mut fills = Vec::new();
        for segment in segments {
            if self.judge_segment(segment, &about_attacks, &mut findings) {
                fills.push(segment);
            }
        }
        // A page about these attacks shows their links as examples; only hidden ones count.
        for link in links {
            if let Some(finding) = self.judge_link(link, host, &fills) {
                if link.hidden || !about_attacks() {
                    findings.push(finding);
                }
            }
        }
        findings
    }

    /// Judges one segment; returns whether it asks for a URL to be filled with the user's
    /// data (which makes a link with a placeholder an exfiltration link).
    fn judge_segment(
        &self,
        segment: &Segment<'_>,
        about_attacks: &dyn Fn() -> bool,
        out: &mut Vec<Finding>,
    ) -> bool {
        if segment.place == Place::Code {
            return false;
        }
        // Most segments hold none of the words any prose rule needs: skip them all, unless
        // the text is in a script the anchors do not cover (Cyrillic, CJK).
        // A single ASCII token (a URL, an id, a path) holds no sentence.
        let one_token = segment.text.is_ascii() && !segment.text.bytes().any(|b| b.is_ascii_whitespace());
        let prose = !one_token
            && (self.anchors.is_match(segment.text.as_ref())
                || (!segment.text.is_ascii() && segment.text.bytes().any(|b| b >= 0xD0)));
        let maybe_encoded = has_long_run(segment.text.as_bytes());
        if !prose && !maybe_encoded {
            return false;
        }
        let text = normalise(&segment.text);
        let text = text.as_ref();
        let mut push = |class: Class, rule: &'static str, span: std::ops::Range<usize>| {
            out.push(Finding {
                class,
                rule,
                place: segment.place.clone(),
                span,
                source: segment.source.clone(),
            });
        };
        let mut fill = false;
        if prose {
            fill = self.fill.is_match(text);
            self.judge_prose(segment, text, about_attacks, &mut push);
        }
        // Encoded commands in any place but code: a run that decodes to a shell pipeline or
        // an instruction.
        if maybe_encoded || prose {
            if let Some(span) = self.encoded_command(text) {
                push(
                    Class::EncodedCommand,
                    "an encoded run that decodes to a command",
                    span,
                );
            }
        }
        fill
    }

    fn judge_prose(
        &self,
        segment: &Segment<'_>,
        text: &str,
        about_attacks: &dyn Fn() -> bool,
        push: &mut impl FnMut(Class, &'static str, std::ops::Range<usize>),
    ) {
        let found = |re: &Regex| re.find(text).map(|m| m.range());
        let overrides = || found(&self.overrides).or_else(|| found(&self.overrides_i18n));
        let addressed = || self.addressed_model.is_match(text) || self.address.is_match(text);
        match &segment.place {
            Place::Hidden(_) => {
                // Hidden text that reads as an instruction, whatever kind: nothing honest
                // addresses the model where the reader cannot see it.
                let instruction = overrides()
                    .map(|s| ("hidden override", s))
                    .or_else(|| found(&self.extraction).map(|s| ("hidden extraction request", s)))
                    .or_else(|| found(&self.secrecy).map(|s| ("hidden secrecy", s)))
                    .or_else(|| found(&self.authority).map(|s| ("hidden authority claim", s)))
                    .or_else(|| {
                        found(&self.role)
                            .filter(|_| {
                                addressed() || imperative(text) || self.role.find_iter(text).nth(1).is_some()
                            })
                            .map(|s| ("hidden role claim", s))
                    })
                    .or_else(|| {
                        found(&self.harm)
                            .filter(|s| imperative_at(text, s.start))
                            .map(|s| ("hidden harmful action", s))
                    })
                    .or_else(|| {
                        // A hidden instruction to act: the sentence is an imperative, and it
                        // speaks to someone or touches something sensitive ("Call a
                        // function." in a page's description is neither).
                        found(&self.action)
                            .filter(|s| {
                                commanded(text, s.start)
                                    && (self.addressed.is_match(text) || self.sensitive.is_match(text))
                            })
                            .map(|s| ("hidden action", s))
                    })
                    .or_else(|| {
                        found(&self.address)
                            .filter(|_| imperative(text))
                            .map(|s| ("hidden address to the model", s))
                    })
                    .or_else(|| found(&self.shell).map(|s| ("hidden shell command", s)));
                if let Some((rule, span)) = instruction {
                    push(Class::HiddenInstruction, rule, span);
                }
            }
            Place::ToolDescription => {
                let poison = found(&self.secrecy)
                    .map(|s| ("secrecy in a tool description", s))
                    .or_else(|| overrides().map(|s| ("override in a tool description", s)))
                    .or_else(|| found(&self.extraction).map(|s| ("extraction in a tool description", s)))
                    .or_else(|| {
                        found(&self.sensitive)
                            .filter(|_| self.pass_along.is_match(text) || self.reads.is_match(text))
                            .map(|s| ("sensitive file in a tool description", s))
                    })
                    .or_else(|| found(&self.shadowing).map(|s| ("shadows another tool", s)))
                    .or_else(|| found(&self.shell).map(|s| ("shell command in a tool description", s)));
                if let Some((rule, span)) = poison {
                    push(Class::ToolPoisoning, rule, span);
                }
            }
            Place::Visible | Place::Field(_) => {
                // Quoted attacks on a page about attacks are examples, not instructions.
                let quoted = |span: &std::ops::Range<usize>| is_quoted(text, span) && about_attacks();
                // A role claim counts when addressed to a model, or when it comes with a
                // second one ("[SYSTEM] You are now in maintenance mode").
                let claim = found(&self.authority)
                    .or_else(|| found(&self.role))
                    .filter(|_| addressed() || self.role.find_iter(text).nth(1).is_some());
                if let Some(span) = overrides().or(claim).filter(|s| !quoted(s)) {
                    push(Class::AddressedOverride, "override addressed to the model", span);
                } else if let Some(span) = found(&self.extraction).filter(|s| !quoted(s) && !about_attacks())
                {
                    push(
                        Class::PromptExtraction,
                        "asks for the prompt or tool definitions",
                        span,
                    );
                } else if let Some(span) = found(&self.harm)
                    .filter(|s| imperative_at(text, s.start))
                    .or_else(|| {
                        found(&self.action).filter(|s| {
                            (addressed() || self.sensitive.is_match(text)) && commanded(text, s.start)
                        })
                    })
                    .filter(|s| !quoted(s) && !about_attacks())
                {
                    push(Class::ToolOrCommand, "instructs the model to act", span);
                }
            }
            Place::Code => {}
        }
    }

    /// The span of a run (base64, wrapped base64, hex, base32, percent-encoding, or the
    /// whole text under ROT13) that decodes to a shell pipeline or an instruction.
    fn encoded_command(&self, text: &str) -> Option<std::ops::Range<usize>> {
        let runs = self
            .base64_run
            .find_iter(text)
            .chain(self.wrapped_base64.find_iter(text))
            .filter_map(|m| {
                let run: Vec<u8> = m.as_str().bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                // The shared decoder wants text or compressed data; PowerShell's UTF-16LE is
                // neither at first sight, so a whole run is also decoded as it stands.
                let decoded = crate::detect::decode::base64::decode_run(&run).or_else(|| {
                    use base64::Engine as _;
                    let trimmed = run.strip_suffix(b"==").or(run.strip_suffix(b"=")).unwrap_or(&run);
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(trimmed)
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
                        .ok()
                })?;
                Some((m.range(), decoded))
            })
            .chain(self.hex_run.find_iter(text).filter_map(|m| {
                let run: Vec<u8> = m.as_str().bytes().filter(u8::is_ascii_hexdigit).collect();
                Some((m.range(), crate::detect::decode::base64::decode_hex_run(&run)?))
            }))
            .chain(self.base32_run.find_iter(text).filter_map(|m| {
                let run = m.as_str().trim_end_matches('=');
                Some((
                    m.range(),
                    crate::detect::decode::base64::decode_base32(run.as_bytes())?,
                ))
            }))
            .chain(
                self.percent_run
                    .find_iter(text)
                    .map(|m| (m.range(), percent_decode(m.as_str().as_bytes()))),
            );
        for (span, decoded) in runs {
            if self.decodes_to_command(&decoded, 2) {
                return Some(span);
            }
        }
        let lower = text.to_ascii_lowercase();
        if (lower.contains("rot13") || lower.contains("rot-13") || lower.contains("rot 13"))
            && self.is_command(&rot13(text))
        {
            return Some(0..text.len());
        }
        None
    }

    /// Whether decoded bytes are a command: as text (UTF-8 or PowerShell's UTF-16LE), after
    /// gunzip, or after one more layer of base64.
    fn decodes_to_command(&self, bytes: &[u8], depth: u8) -> bool {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            use std::io::Read as _;
            let mut out = Vec::new();
            let mut gz = flate2::read::GzDecoder::new(bytes).take(1 << 20);
            if gz.read_to_end(&mut out).is_ok() || !out.is_empty() {
                return self.decodes_to_command(&out, depth.saturating_sub(1));
            }
            return false;
        }
        let text = if bytes.len() >= 8 && bytes.iter().skip(1).step_by(2).take(16).all(|&b| b == 0) {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            match std::str::from_utf8(bytes) {
                Ok(t) => t.to_owned(),
                Err(_) => return false,
            }
        };
        // A document (a README in a code host's API answer, a page): judged as one, so that
        // install instructions in it are documentation, and an instruction hidden in it is
        // still found. A short text is judged as the command it would be.
        if text.len() >= 256 || text.lines().nth(2).is_some() {
            let (segments, links) = segments(Kind::of("text/markdown", &text), &text);
            return !self.judge_segments(&segments, &links, "").is_empty();
        }
        if self.is_command(&text) {
            return true;
        }
        depth > 0
            && self.base64_run.find_iter(&text).any(|m| {
                crate::detect::decode::base64::decode_run(m.as_str().as_bytes())
                    .is_some_and(|d| self.decodes_to_command(&d, depth - 1))
            })
    }

    fn is_command(&self, text: &str) -> bool {
        self.shell.is_match(text)
            || self.overrides.is_match(text)
            || self.overrides_i18n.is_match(text)
            || self.action.is_match(text)
            || self.extraction.is_match(text)
    }

    fn judge_link(&self, link: &Link, host: &str, fills: &[&Segment<'_>]) -> Option<Finding> {
        // Links back to the answer's own host carry nothing out: known without parsing.
        let written = link.url.trim();
        let quick_host = written
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#', ':']).next().unwrap_or(""));
        if quick_host.is_some_and(|h| h.eq_ignore_ascii_case(host)) {
            return None;
        }
        let url = url::Url::parse(written).ok()?;
        let target = url.host_str()?.to_ascii_lowercase();
        let origin = host.to_ascii_lowercase();
        let same_site = target == origin
            || target.ends_with(&format!(".{origin}"))
            || origin.ends_with(&format!(".{target}"))
            || registrable(&target) == registrable(&origin);
        if same_site {
            return None;
        }
        let rest = &link.url[link.url.find(&target).map_or(0, |i| i + target.len())..];
        // A URL with a placeholder that the text around it (or text naming the placeholder)
        // asks the model to fill with the user's data is an exfiltration link, whether it
        // loads by itself or is offered to click.
        let filled = !fills.is_empty()
            && self.placeholder.find_iter(rest).any(|m| {
                let token = m
                    .as_str()
                    .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                fills.iter().any(|segment| {
                    contains(&segment.source, &link.source)
                        || (token.len() >= 3
                            && segment.text.contains(token)
                            && !segment.text.contains(&link.url))
                })
            });
        let carries = (link.loads_itself || link.hidden)
            && (self.data_in_url.find(rest).is_some() || long_opaque_value(&url));
        (filled || carries).then_some(Finding {
            class: Class::ExfilLink,
            rule: "a URL carries the user's data to another host",
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

/// Whether source `outer` holds source `inner` (a link in the segment's text).
fn contains(outer: &Source, inner: &Source) -> bool {
    match (outer, inner) {
        (Source::Text(a), Source::Text(b)) => a.start <= b.start && b.end <= a.end,
        (Source::JsonString(a), Source::JsonString(b)) => a == b,
        _ => false,
    }
}

/// Words (lowercase, matched ASCII-case-insensitively) of which every prose rule needs one.
const ANCHORS: &[&str] = &[
    // Overrides, in the languages the verbs are ASCII in.
    "ignor",
    "disregard",
    "forget",
    "forgot",
    "overrid",
    "bypass",
    "discard",
    "olvid",
    "oubli",
    "vergiss",
    "vergessen",
    "omite",
    "descarta",
    "dimentica",
    "instruc",
    "directive",
    "prompt",
    "real task",
    "actual task",
    "true task",
    "new task",
    "next task",
    "real goal",
    "actual goal",
    "real objective",
    "actual objective",
    "[inst",
    "<|",
    "</",
    "<system",
    "<user",
    "<untrusted",
    "<context",
    "<document",
    "not follow",
    "not obey",
    "reading this",
    "processing this",
    "summarizing this",
    "summarising this",
    // Role and authority claims, addresses to the model.
    "are now",
    "are no longer",
    "from now on",
    "act as",
    "behave as",
    "respond as",
    "developer mode",
    "developer message",
    "developer instruction",
    "developer override",
    "developer directive",
    "developer update",
    "developer notice",
    "admin",
    "[system",
    "system prompt",
    "system message",
    "system instruction",
    "system override",
    "system directive",
    "system update",
    "system notice",
    "system-prompt",
    "systemprompt",
    "sistema",
    "syst\u{e8}me",
    " ai",
    "ai ",
    "ai:",
    "assistant",
    "model",
    "llm",
    "agent",
    "chatbot",
    " bot",
    "copilot",
    "your answer",
    "your reply",
    "your response",
    "your summary",
    "your output",
    // Extraction.
    "hidden config",
    "hidden rules",
    "secret",
    "internal config",
    "internal rules",
    "confidential",
    "your rules",
    "rules you",
    "guideline",
    "tool",
    "function definition",
    "function description",
    "function schema",
    "function spec",
    "functions you",
    "json schema",
    "text above",
    "words above",
    "message above",
    "everything above",
    "everything before",
    "been given",
    "were given",
    "repeat",
    "consigne",
    "anweisung",
    "konfiguration",
    // Secrecy.
    "user",
    "important",
    "they must",
    "they should",
    "they won't",
    // Harm: money, access, deletion, repositories, account security.
    "$",
    "\u{20ac}",
    "\u{a3}",
    "usd",
    "euro",
    "gbp",
    "dollar",
    "btc",
    "bitcoin",
    "access",
    "permission",
    "owner",
    "collaborator",
    "delete",
    "remove",
    "wipe",
    "erase",
    "cancel",
    "archive",
    "repo ",
    "repos ",
    "repository",
    "repositories",
    "password",
    "2fa",
    "two-factor",
    "mfa",
    // Actions, commands and the files they read.
    "command",
    "plugin",
    "http",
    "@",
    "webhook",
    "endpoint",
    "curl",
    "wget",
    "bash",
    " sh ",
    "|sh",
    "| sh",
    "powershell",
    "terminal",
    "shell",
    "~/",
    "id_rsa",
    "id_ed",
    "id_ecdsa",
    ".env",
    "/etc/",
    ".aws",
    "mcp.json",
    "private key",
    "rm -rf",
    "/dev/tcp",
    " nc ",
    "chmod",
    // Data a URL is to be filled with.
    "conversation",
    "chat",
    "last message",
    "previous message",
    "api key",
    "credential",
    "placeholder",
    // Encodings named in the text.
    "rot13",
    "rot-13",
    "rot 13",
];

/// Whether the text holds a run long enough to be an encoding worth decoding (24 base64 or
/// 8 percent-escaped characters). A run of 24 covers a position that is a multiple of 24, so
/// only those are looked at, and widened where they fall in the alphabet.
fn has_long_run(bytes: &[u8]) -> bool {
    const RUN: usize = 24;
    let in_alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-' | b'=');
    let mut probe = RUN - 1;
    while probe < bytes.len() {
        if in_alphabet(bytes[probe]) {
            let start = bytes[..probe]
                .iter()
                .rposition(|&b| !in_alphabet(b))
                .map_or(0, |p| p + 1);
            let end = bytes[probe..]
                .iter()
                .position(|&b| !in_alphabet(b))
                .map_or(bytes.len(), |p| probe + p);
            if end - start >= RUN {
                return true;
            }
            probe = end + RUN;
        } else {
            probe += RUN;
        }
    }
    memchr::memchr_iter(b'%', bytes).nth(7).is_some()
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn rot13(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' => char::from((c as u8 - b'a' + 13) % 26 + b'a'),
            'A'..='Z' => char::from((c as u8 - b'A' + 13) % 26 + b'A'),
            c => c,
        })
        .collect()
}

/// Markdown images (`![alt](url)`, which load by themselves) and links in `text`.
pub(super) fn markdown_links(text: &str, hidden: bool, source: &Source, links: &mut Vec<Link>) {
    let mut rest = text;
    while let Some(open) = memchr::memmem::find(rest.as_bytes(), b"](") {
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
/// Text that needs neither is borrowed as it is.
fn normalise(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let plain = !bytes
        .windows(2)
        .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
        && !bytes
            .iter()
            .any(|&b| matches!(b, b'\n' | b'\t' | b'\r' | 0x0B | 0x0C) || b >= 0x80);
    if plain {
        return std::borrow::Cow::Borrowed(text);
    }
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
    std::borrow::Cow::Owned(out)
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
    text.split(['.', '!', '\n', ':', ';']).any(starts_imperative)
}

/// Whether the sentence holding byte `at` starts with a bare imperative.
fn imperative_at(text: &str, at: usize) -> bool {
    let start = text[..at]
        .rfind(['.', '!', '\n', ':', ';', '?'])
        .map_or(0, |i| i + 1);
    starts_imperative(&text[start..])
}

/// Whether the verb at byte `at` is commanded: its sentence starts with an imperative, or
/// the words just before it tell someone to do it ("you must call", "please run",
/// "Assistant, before summarising, run").
fn commanded(text: &str, at: usize) -> bool {
    if imperative_at(text, at) {
        return true;
    }
    let before = text[..at].trim_end().to_ascii_lowercase();
    [
        "you must",
        "you should",
        "you need to",
        "you have to",
        "you are to",
        "you will",
        "please",
        "kindly",
        "now",
        "then",
        "first",
        "immediately",
        "also",
        ",",
        "and",
    ]
    .iter()
    .any(|w| before.ends_with(w))
}

fn starts_imperative(sentence: &str) -> bool {
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
        "please",
        "kindly",
        "grant",
        "give",
        "share",
        "wire",
        "pay",
        "make",
        "set",
        "remove",
        "cancel",
        "list",
        "quote",
        "print",
        "output",
        "show",
        "reveal",
        "repeat",
        "ignore",
        "forget",
        "disregard",
        "always",
        "never",
        "now",
        "also",
        "first",
        "immediately",
        "at",
        "before",
        "after",
        "do",
        "don't",
        "render",
        "display",
        "embed",
        "insert",
        "replace",
        "grab",
        "load",
    ];
    sentence
        .split_whitespace()
        .find(|w| w.chars().any(|c| c.is_alphabetic()))
        .is_some_and(|first| {
            let word = first
                .trim_matches(|c: char| !c.is_ascii_alphabetic() && c != '\'')
                .to_ascii_lowercase();
            VERBS.contains(&word.as_str())
        })
}
