import { Application, Logger, LogLevel, ReflectionKind, type DeclarationReflection, type ProjectReflection, type Reflection } from 'typedoc';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import config, { entryPointsBySubpath } from '../../typedoc.config.js';
import { compileExamples, type Example } from './compile-examples.js';

/** Collects what TypeDoc reports instead of printing it. */
class CollectingLogger extends Logger {
  readonly messages: string[] = [];

  override log(message: string, level: LogLevel): void {
    super.log(message, level);
    if (level >= LogLevel.Warn) this.messages.push(`${LogLevel[level]}: ${message}`);
  }
}

let project: ProjectReflection;
let logger: CollectingLogger;

beforeAll(async () => {
  const app = await Application.bootstrap(config);
  logger = new CollectingLogger();
  app.logger = logger;
  const converted = await app.convert();
  if (converted === undefined) throw new Error(`TypeDoc could not convert the entry points:\n${logger.messages.join('\n')}`);
  project = converted;
  app.validate(project);
}, 120_000);

/** The module TypeDoc made of one entry point, found by its import specifier. */
function moduleOf(specifier: string): DeclarationReflection {
  const module = project.children?.find((child) => child.kindOf(ReflectionKind.Module) && `export-task${child.name === 'index' ? '' : `/${child.name}`}` === specifier);
  if (module === undefined) throw new Error(`TypeDoc made no module of ${specifier}; it has ${project.children?.map((c) => c.name).join(', ')}`);
  return module;
}

/** Where a reflection's doc comment lives: a function's or method's is on its (first) signature. */
function commentOf(reflection: DeclarationReflection): Reflection['comment'] {
  return reflection.comment ?? reflection.signatures?.[0]?.comment ?? reflection.getSignature?.comment;
}

function summaryOf(reflection: DeclarationReflection): string {
  return (commentOf(reflection)?.summary ?? []).map((part) => part.text).join('').trim();
}

/** Every code block of every `@example` in the project, members' included. */
function allExamples(): Example[] {
  const examples: Example[] = [];
  const visit = (reflection: Reflection, where: string): void => {
    const declaration = reflection as DeclarationReflection;
    const comments = [reflection.comment, ...(declaration.signatures ?? []).map((s) => s.comment), declaration.getSignature?.comment];
    for (const tag of comments.flatMap((comment) => comment?.blockTags ?? [])) {
      if (tag.tag !== '@example') continue;
      const text = tag.content.map((part) => part.text).join('');
      for (const [, language, code] of text.matchAll(/```(tsx?)\n([\s\S]*?)```/g)) examples.push({ where, code: code!, tsx: language === 'tsx' });
    }
    reflection.traverse((child) => visit(child, `${where}.${child.name}`));
  };
  for (const module of project.children ?? []) visit(module, module.name === 'index' ? 'export-task' : `export-task/${module.name}`);
  return examples;
}

/** The code of the `@example` blocks of a reflection. */
function examplesOf(reflection: DeclarationReflection): string[] {
  return (commentOf(reflection)?.blockTags ?? []).filter((tag) => tag.tag === '@example').map((tag) => tag.content.map((part) => part.text).join(''));
}

const specifiers = Object.keys(entryPointsBySubpath);

describe('the API documentation', () => {
  it('covers every subpath of package.json exports', () => {
    expect(specifiers).toContain('export-task');
    expect(specifiers).toContain('export-task/server');
    for (const specifier of specifiers) expect(moduleOf(specifier).children?.length ?? 0).toBeGreaterThan(0);
  });

  it('builds without a TypeDoc warning: nothing undocumented, no broken link, no referenced type left unexported', () => {
    expect(logger.messages).toEqual([]);
  });

  it.each(specifiers)('gives every export of %s a one-line summary and an @example with code', (specifier) => {
    const missing: string[] = [];
    for (const reflection of moduleOf(specifier).children ?? []) {
      if (summaryOf(reflection) === '') missing.push(`${reflection.name}: no summary`);
      const examples = examplesOf(reflection);
      if (examples.length === 0) missing.push(`${reflection.name}: no @example`);
      else if (!examples.every((example) => /```tsx?\n[\s\S]*\S[\s\S]*```/.test(example))) missing.push(`${reflection.name}: an @example without a \`\`\`ts code block`);
    }
    expect(missing).toEqual([]);
  });

  it.each(specifiers)('gives every member of the classes and interfaces of %s a summary', (specifier) => {
    const missing: string[] = [];
    for (const owner of moduleOf(specifier).children ?? []) {
      if (!owner.kindOf(ReflectionKind.Class | ReflectionKind.Interface)) continue;
      for (const member of owner.children ?? []) {
        // Members inherited from Error, Observable or a base class are documented where they are declared.
        if (member.inheritedFrom !== undefined || member.flags.isExternal) continue;
        if (member.kindOf(ReflectionKind.Constructor) && owner.kindOf(ReflectionKind.Class) && member.signatures?.every((s) => s.comment === undefined)) {
          missing.push(`${owner.name} constructor: no summary`);
          continue;
        }
        if (!member.kindOf(ReflectionKind.Constructor) && summaryOf(member) === '') missing.push(`${owner.name}.${member.name}: no summary`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('has examples that compile: each sees every export and the objects its prose talks about', () => {
    const examples = allExamples();
    expect(examples.length).toBeGreaterThan(100);
    const exportsBySpecifier = new Map(specifiers.map((specifier) => [specifier, (moduleOf(specifier).children ?? []).map((child) => child.name)] as const));
    expect(compileExamples(fileURLToPath(new URL('../../', import.meta.url)), examples, exportsBySpecifier)).toEqual([]);
  }, 120_000);
});
