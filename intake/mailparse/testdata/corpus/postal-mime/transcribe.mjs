#!/usr/bin/env node
// Writes this folder's mails and expected.json from postalsys/postal-mime's
// own tests:
//
//     node transcribe.mjs path/to/postal-mime-checkout
//
// Each test file runs against stand-ins for the library, node:test and
// node:assert: the library's stand-in records the raw mail a test feeds it
// and hands the test markers instead of parsed values, so that
// assert.strictEqual(email.subject, 'x') is recorded as "subject is x" and
// assert.ok(email.text.includes('y')) as "the text contains y". The library
// itself never runs, and nothing comes from casemail.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const checkout = path.resolve(process.argv[2]);
const here = path.dirname(new URL(import.meta.url).pathname);

// The stand-ins, served to the test files by a resolve hook.
const H = (globalThis.__H = { tests: [], cur: null });
const standIn = {
    'postal-mime': `
const H = globalThis.__H;
function marker(p) {
    return new Proxy(function () {}, {
        get(t, prop) {
            if (prop === '__path') return p;
            if (prop === Symbol.toPrimitive) return () => '\\u0000' + p;
            if (prop === 'then' || typeof prop === 'symbol') return undefined;
            return marker(p ? p + '.' + String(prop) : String(prop));
        },
        apply(t, self, args) {
            return marker(p + '(' + args.map(a => (typeof a === 'function' ? 'fn' : JSON.stringify(a))).join(',') + ')');
        }
    });
}
async function bytes(buf) {
    if (buf && typeof buf.getReader === 'function') {
        const chunks = [];
        const r = buf.getReader();
        for (;;) { const { done, value } = await r.read(); if (done) break; chunks.push(Buffer.from(value)); }
        return Buffer.concat(chunks);
    }
    if (typeof buf === 'string') return Buffer.from(buf);
    if (buf instanceof Blob) return Buffer.from(await buf.arrayBuffer());
    if (ArrayBuffer.isView(buf)) return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf instanceof ArrayBuffer) return Buffer.from(buf);
    return Buffer.alloc(0);
}
export default class PostalMime {
    static async parse(buf, opts) { return new PostalMime(opts).parse(buf); }
    constructor(opts) { this.opts = opts || {}; }
    async parse(buf) {
        const mail = await bytes(buf);
        H.cur.mails.push({ mail, opts: this.opts });
        return marker('');
    }
}
export const addressParser = () => null;
export const decodeWords = () => null;
`,
    test: `
const H = globalThis.__H;
export default function test(name, opts, fn) { H.tests.push({ name, fn: typeof opts === 'function' ? opts : fn }); }
export const describe = test, it = test;
`,
    assert: `
const H = globalThis.__H;
const pathOf = v => (typeof v === 'function' && v.__path !== undefined ? v.__path.replace(/^\\./, '') : null);
function eq(a, b) {
    H.cur.asserts.push(pathOf(a) === null && pathOf(b) !== null ? ['eq', pathOf(b), a] : ['eq', pathOf(a), b]);
}
function ok(v) { H.cur.asserts.push(['ok', pathOf(v)]); }
const assert = (v) => ok(v);
Object.assign(assert, { ok, equal: eq, strictEqual: eq, deepEqual: eq, deepStrictEqual: eq,
    notEqual() {}, notStrictEqual() {}, notDeepStrictEqual() {}, match() {}, doesNotMatch() {},
    throws() {}, doesNotThrow() {}, async rejects() {}, async doesNotReject() {}, fail() {} });
export default assert;
export const strict = assert;
`
};
const hooks = `
const standIn = ${JSON.stringify(Object.fromEntries(Object.keys(standIn).map(k => [k, 'data:text/javascript,' + encodeURIComponent(standIn[k])])))};
export async function resolve(spec, ctx, next) {
    if (spec === 'node:test') return { url: standIn.test, shortCircuit: true };
    if (spec === 'node:assert' || spec === 'node:assert/strict') return { url: standIn.assert, shortCircuit: true };
    if (/\\/src\\/postal-mime\\.js$/.test(spec)) return { url: standIn['postal-mime'], shortCircuit: true };
    return next(spec, ctx);
}`;
register('data:text/javascript,' + encodeURIComponent(hooks));

// Test files that feed the library whole mails.
const FILES = ['base64-decoder-test.js', 'comprehensive-coverage-test.js', 'header-parsing-test.js', 'mime-node-test.js',
    'pass-through-decoder-test.js', 'postal-mime-edge-cases-test.js', 'postal-mime-test.js', 'qp-decoder-test.js'];

function slug(s) {
    return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 90);
}

// expectation turns one test's assertions into the fidelity format; null
// when none is about a field the report compares.
function expectation(asserts, opts) {
    const e = {};
    const atts = {};
    const push = (k, v) => (e[k] = e[k] || []).push(v);
    for (const [kind, p, want] of asserts) {
        if (p === null) continue;
        let m;
        if (kind === 'ok') {
            if ((m = p.match(/^(text|html)\.includes\((".*")\)$/))) push(m[1] + '_contains', JSON.parse(m[2]));
            continue;
        }
        if (p === 'subject') e.subject = want;
        else if ((p === 'text' || p === 'text.trim()') && typeof want === 'string') e.text = want;
        else if (p === 'html' && typeof want === 'string') e.html = want;
        else if (p === 'from.address' && typeof want === 'string') e.from_addr = want.toLowerCase();
        else if (p === 'from.name' && typeof want === 'string') e.from_name = want;
        else if (p === 'from' && want && typeof want.address === 'string') {
            e.from_addr = want.address.toLowerCase();
            e.from_name = want.name;
        } else if (p === 'attachments.length') e.attachment_count = want;
        else if ((m = p.match(/^attachments\.(\d+)\.(filename|content\.byteLength)$/)) && opts.attachmentEncoding === undefined) {
            const a = (atts[m[1]] = atts[m[1]] || {});
            if (m[2] === 'filename' && typeof want === 'string') a.name = want;
            if (m[2] === 'content.byteLength') a.size = want;
        }
    }
    const inc = Object.keys(atts).sort().map(k => Object.assign({ name: '*' }, atts[k]));
    if (inc.length) e.attachments_include = inc;
    return Object.keys(e).length ? e : null;
}

const expected = {};
const index = [['file', 'upstream test file', 'test', 'expected fields'].join('\t')];
const seen = new Map(); // sha256 of a mail -> its file
const fixtureDir = path.join(checkout, 'test', 'fixtures');
for (const f of fs.readdirSync(fixtureDir)) {
    const b = fs.readFileSync(path.join(fixtureDir, f));
    seen.set(crypto.createHash('sha256').update(b).digest('hex'), 'fixtures/' + f);
    fs.mkdirSync(path.join(here, 'fixtures'), { recursive: true });
    fs.writeFileSync(path.join(here, 'fixtures', f), b);
}
for (const file of FILES) {
    H.tests = [];
    await import(pathToFileURL(path.join(checkout, 'test', file)).href);
    for (const t of H.tests) {
        H.cur = { mails: [], asserts: [] };
        try {
            await Promise.race([t.fn({ skip() {}, todo() {}, diagnostic() {} }), new Promise(r => setTimeout(r, 300))]);
        } catch (err) {
            // An assertion on something the markers cannot stand for.
        }
        if (H.cur.mails.length !== 1) continue;
        const m = H.cur.mails[0];
        // Options that move parts between body and attachments make the
        // test's expectations hold only with them.
        const e = m.opts.rfc822Attachments || m.opts.forceRfc822Attachments ? null : expectation(H.cur.asserts, m.opts);
        const sum = crypto.createHash('sha256').update(m.mail).digest('hex');
        let name = seen.get(sum);
        if (!name) {
            if (!e) continue;
            name = 'tests/' + slug(file.replace(/-test\.js$/, '')) + '--' + slug(t.name) + '.eml';
            seen.set(sum, name);
            fs.mkdirSync(path.join(here, 'tests'), { recursive: true });
            fs.writeFileSync(path.join(here, name), m.mail);
        }
        if (e) expected[name] = Object.assign(expected[name] || {}, e);
        index.push([name, 'test/' + file, t.name.replace(/\s+/g, ' '), e ? Object.keys(e).join(' ') : '-'].join('\t'));
    }
}
const sorted = {};
for (const k of Object.keys(expected).sort()) sorted[k] = expected[k];
fs.writeFileSync(path.join(here, 'expected.json'), JSON.stringify(sorted, null, 1) + '\n');
fs.writeFileSync(path.join(here, 'INDEX.tsv'), index.join('\n') + '\n');
console.log(Object.keys(expected).length, 'mails with expectations');
process.exit(0);
