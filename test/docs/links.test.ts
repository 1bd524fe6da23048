/**
 * Every relative link of the README and of docs/ leads somewhere in the repository: a file or
 * folder that exists, and, for a link with `#anchor` to a Markdown file, a heading of that file.
 * (Links to the web are left alone: the test runs offline.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Markdown files users read: the README and docs/ (not the generated docs/api/). */
function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md') && !file.startsWith('api'))
    .map((file) => join(ROOT, 'docs', file));
  return [join(ROOT, 'README.md'), ...docs];
}

/** The Markdown without fenced code blocks, where `#` starts no heading. */
function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The Markdown without code blocks and inline code, where brackets are not links. */
function prose(markdown: string): string {
  return withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, '');
}

/** Link targets: `[text](target)` and `[text](target "title")`. */
function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
}

/** GitHub's (and TypeDoc's) anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...withoutCodeBlocks(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)].map((match) => slug(match[1]!)));
}

describe('the links of the README and docs/', () => {
  const files = markdownFiles();

  it('finds the files to check', () => {
    expect(files.map((file) => relative(ROOT, file))).toEqual(expect.arrayContaining(['README.md', join('docs', 'index.md'), join('docs', 'http-protocol.md')]));
    // The README links the guides, the protocol, the benchmarks and the LICENSE.
    expect(linkTargets(readFileSync(join(ROOT, 'README.md'), 'utf8'))).toEqual(expect.arrayContaining(['LICENSE', 'docs/index.md', 'docs/http-protocol.md#events']));
  });

  it.each(files.map((file) => [relative(ROOT, file), file]))('%s: every relative link resolves inside the repository', (_name, file) => {
    const markdown = readFileSync(file, 'utf8');
    const broken: string[] = [];
    for (const target of linkTargets(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#', 2);
      const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      if (!resolved.startsWith(ROOT) || !existsSync(resolved)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading with that anchor`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('would catch a broken link', () => {
    expect(linkTargets('see [the guide](guide-nowhere.md) and `[not](a-link.md)`')).toEqual(['guide-nowhere.md']);
    expect(anchors('# Title\n## The HTTP protocol: `events`\n')).toEqual(new Set(['title', 'the-http-protocol-events']));
  });
});
