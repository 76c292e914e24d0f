#!/usr/bin/env node
// Writes this folder's mails and expected.json from nodemailer/mailparser's
// own tests:
//
//     node transcribe.js path/to/mailparser-checkout
//
// Each test file of test/ runs against a stand-in for the library: the
// stand-in records the raw mail a test feeds it, and hands the test
// markers instead of parsed values, so that every assertion
// (test.equal(mailparser.subject, 'x')) is recorded as "subject is 'x'".
// Nothing runs the library, and nothing comes from casemail.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const EventEmitter = require('events');
const Module = require('module');

const checkout = path.resolve(process.argv[2]);
// Fixtures left out: a megabyte of plain text each, only checked for "some
// text came out".
const LEFT_OUT = ['large_text.eml'];
const here = __dirname;

let cur = null;
const records = [];

function marker(p) {
    return new Proxy(function () {}, {
        get(t, prop) {
            if (prop === '__path') return p;
            if (prop === Symbol.toPrimitive) return () => '\u0000' + p;
            if (prop === 'then' || typeof prop === 'symbol') return undefined;
            return marker(p ? p + '.' + String(prop) : String(prop));
        },
        apply(t, self, args) {
            return marker(p + '(' + args.map(a => (typeof a === 'function' ? 'fn' : JSON.stringify(a))).join(',') + ')');
        }
    });
}

function newMail(opts) {
    const r = { opts: opts || {} };
    cur.mails.push(r);
    return r;
}

function attachment(i) {
    const store = { type: 'attachment', content: new EventEmitter(), release() {} };
    return new Proxy(store, {
        get(t, prop) {
            if (prop in t || typeof prop === 'symbol') return t[prop];
            return marker('attachments.' + i + '.' + String(prop));
        },
        set(t, prop, v) {
            t[prop] = v;
            return true;
        }
    });
}

class MailParser extends EventEmitter {
    constructor(opts) {
        super();
        this.chunks = [];
        this.rec = newMail(opts);
        return new Proxy(this, {
            get(t, prop) {
                if (prop in t || typeof prop === 'symbol') {
                    const v = t[prop];
                    return typeof v === 'function' ? v.bind(t) : v;
                }
                return marker(String(prop));
            }
        });
    }
    write(c, enc) {
        if (c != null) this.chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c, enc || 'utf8'));
        return true;
    }
    end(c, enc) {
        this.write(c, enc);
        this.rec.mail = Buffer.concat(this.chunks);
        setImmediate(() => {
            this.emit('headers', marker('headers'));
            this.emit('headerLines', []);
            const atts = [0, 1, 2, 3].map(attachment);
            atts.forEach(a => this.emit('data', a));
            this.emit('data', { type: 'text', text: marker('text'), html: marker('html'), textAsHtml: marker('textAsHtml') });
            setImmediate(() => {
                atts.forEach(a => a.content.emit('end'));
                setImmediate(() => this.emit('end'));
            });
        });
    }
}

function simpleParser(source, opts, cb) {
    if (typeof opts === 'function') {
        cb = opts;
        opts = {};
    }
    if (source == null) throw new TypeError('no input');
    const rec = newMail(opts);
    if (Buffer.isBuffer(source)) rec.mail = source;
    else if (typeof source === 'string') rec.mail = Buffer.from(source);
    else {
        rec.mail = fs.readFileSync(source.path);
        rec.fixture = path.basename(source.path);
    }
    const mail = marker('');
    if (cb) {
        setImmediate(() => cb(null, mail));
        return undefined;
    }
    return Promise.resolve(mail);
}

const origLoad = Module._load;
Module._load = function (req, parent) {
    if (parent && parent.filename && parent.filename.startsWith(path.join(checkout, 'test'))) {
        if (req === '..') return { MailParser, simpleParser };
        if (req === '../lib/simple-parser') return simpleParser;
        if (req === 'iconv') return { Iconv: function () {} };
        if (req === 'iconv-lite') return require(require.resolve('iconv-lite', { paths: [here, process.cwd()] }));
    }
    return origLoad.apply(this, arguments);
};

function pathOf(v) {
    return typeof v === 'function' && v.__path !== undefined ? v.__path.replace(/^\./, '') : null;
}

async function run(file, name, fn) {
    cur = { file, test: name, mails: [], asserts: [] };
    records.push(cur);
    const me = cur;
    await new Promise(resolve => {
        const test = {
            expect() {},
            ifError() {},
            done: resolve,
            equal(a, b) {
                // Some tests put the expected value first.
                me.asserts.push(pathOf(a) === null && pathOf(b) !== null ? [pathOf(b), a] : [pathOf(a), b]);
            },
            deepEqual(a, b) {
                me.asserts.push([pathOf(a), b]);
            },
            ok() {}
        };
        try {
            const r = fn(test);
            if (r && r.catch) r.catch(() => resolve());
        } catch (e) {
            resolve();
        }
        setTimeout(resolve, 300);
    });
}

// What tests compute before asserting (a hash of the content, a byte list,
// a search in the text) cannot be recorded as an assertion on a field; it
// is transcribed here by hand, from the test's source.
const bytes = list => Buffer.from(list);
const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');
const MANUAL = {
    // parsed.text.indexOf('Status: 5.1.1') >= 0
    'Parses message/delivery-status': { text_contains: ['Status: 5.1.1'] },
    // test.equal(1, attachments.length); sha256 of attachments[0].content
    'Base64 encoded root node': {
        attachment_count: 1,
        attachments_include: [{ name: '*', sha256: '3d0c2d17edd1fed968f66ca200e7c165efd63834b488eec53deb24cca49c3d7b' }]
    },
    // attachments[0].content's bytes, joined by commas
    'Binary attachment encodings / Quoted-Printable': {
        attachments_include: [{ name: '*', size: 7, sha256: sha256(bytes([0, 1, 2, 3, 253, 254, 255])) }]
    },
    'Binary attachment encodings / 8bit': {
        attachments_include: [{ name: '*', size: 8, sha256: sha256(bytes([195, 149, 195, 132, 195, 150, 195, 156])) }]
    }
};

function slug(s) {
    return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

// expectation turns one test's assertions into the fidelity format; null
// when none of them is about a field the report compares.
function expectation(asserts, opts) {
    const e = {};
    const atts = {};
    for (const [p, want] of asserts) {
        if (p === null) continue;
        let m;
        if (p === 'subject' || p === 'headers.get("subject")' || p === 'headers.get("subject").trim()') e.subject = want;
        else if (p === 'text' || p === 'text.trim()') {
            if (!opts.skipHtmlToText) e.text = want;
        } else if ((m = p.match(/^text\.split\("\\n"\)\.0$/))) (e.text_contains = e.text_contains || []).push(want);
        else if (p === 'html') e.html = want;
        else if (p === 'from.value.0.address') e.from_addr = want.toLowerCase();
        else if (p === 'from.value.0.name') e.from_name = want;
        else if (p === 'from.value' && want.length) {
            e.from_addr = want[0].address.toLowerCase();
            e.from_name = want[0].name;
        } else if (p === 'attachments.length') e.attachment_count = want;
        else if ((m = p.match(/^attachments\.(\d+)\.(filename|size|checksum)$/))) {
            const a = (atts[m[1]] = atts[m[1]] || {});
            if (m[2] === 'filename') a.name = want;
            else if (m[2] === 'size') a.size = want;
            else if (want.length === 32) a.md5 = want;
            else if (want.length === 64) a.sha256 = want;
        }
    }
    const inc = Object.keys(atts)
        .sort()
        .map(k => Object.assign({ name: '*' }, atts[k]));
    if (inc.length) e.attachments_include = inc;
    return Object.keys(e).length ? e : null;
}

(async () => {
    const testDir = path.join(checkout, 'test');
    for (const f of fs.readdirSync(testDir).filter(f => f.endsWith('.js')).sort()) {
        const mod = require(path.join(testDir, f));
        for (const [k, v] of Object.entries(mod)) {
            if (typeof v === 'function') await run(f, k, v);
            else for (const [k2, v2] of Object.entries(v)) if (typeof v2 === 'function') await run(f, k + ' / ' + k2, v2);
        }
    }
    const expected = {};
    const index = [['file', 'upstream test file', 'test', 'expected fields'].join('\t')];
    const seen = new Map(); // sha256 of a mail -> its file
    const fixtureDir = path.join(testDir, 'fixtures');
    for (const f of fs.readdirSync(fixtureDir)) {
        if (LEFT_OUT.includes(f)) continue;
        const b = fs.readFileSync(path.join(fixtureDir, f));
        seen.set(crypto.createHash('sha256').update(b).digest('hex'), 'fixtures/' + f);
        fs.mkdirSync(path.join(here, 'fixtures'), { recursive: true });
        fs.writeFileSync(path.join(here, 'fixtures', f), b);
    }
    for (const r of records) {
        if (r.mails.length !== 1 || !r.mails[0].mail) continue; // several mails: linkify stress tests
        const m = r.mails[0];
        let e = expectation(r.asserts, m.opts);
        if (MANUAL[r.test]) e = Object.assign(e || {}, MANUAL[r.test]);
        const sum = crypto.createHash('sha256').update(m.mail).digest('hex');
        let file = seen.get(sum);
        if (!file) {
            if (!e || m.fixture) continue; // a fixture left out, or nothing to check
            file = 'tests/' + slug(r.file.replace(/-test\.js$/, '')) + '--' + slug(r.test) + '.eml';
            seen.set(sum, file);
            fs.mkdirSync(path.join(here, path.dirname(file)), { recursive: true });
            fs.writeFileSync(path.join(here, file), m.mail);
        }
        if (e) expected[file] = Object.assign(expected[file] || {}, e);
        index.push([file, 'test/' + r.file, r.test, e ? Object.keys(e).join(' ') : '-'].join('\t'));
    }
    const sorted = {};
    for (const k of Object.keys(expected).sort()) sorted[k] = expected[k];
    fs.writeFileSync(path.join(here, 'expected.json'), JSON.stringify(sorted, null, 1) + '\n');
    fs.writeFileSync(path.join(here, 'INDEX.tsv'), index.join('\n') + '\n');
    console.log(Object.keys(expected).length, 'mails with expectations');
})();
