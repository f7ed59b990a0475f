import type { App, Field } from '../ir/ir.js';
import { literal, propertyKey, quote } from './literal.js';
import { constant, iface, importTypes, importValues, printModule, type Statement } from './module.js';
import { attributesType, fieldProperty } from './ts-types.js';

/**
 * `factories.ts` (`promiscuous generate mocks`): message factories a publisher hands to its
 * subscribers. It stands alone: it imports only `promiscuous/runtime`, never the publisher.
 */
export function emitFactories(app: App, header: string): string {
  const statements: Statement[] = [
    importTypes(['EphemeralFactory', 'Json', 'ModelFactory'], 'promiscuous/runtime'),
    importValues(['ephemeralFactory', 'factoryTimestamp', 'factoryUuid', 'modelFactory'], 'promiscuous/runtime'),
  ];
  for (const m of app.embedded) {
    statements.push(
      iface(
        attributesType(m.name),
        m.fields.map((f) => fieldProperty(f)),
        `An embedded \`${m.name}\` document.`,
      ),
    );
  }
  for (const p of app.publications) {
    statements.push(
      iface(
        attributesType(p.name),
        p.fields.filter((f) => !f.private).map((f) => fieldProperty(f)),
        `Attributes of \`${p.name}\` as \`${app.name}\` publishes them on \`${p.endpoint.name}\`.`,
      ),
    );
  }
  for (const e of app.ephemerals) {
    statements.push(
      iface(
        attributesType(e.name),
        e.fields.map((f) => fieldProperty(f)),
        `Attributes of the ephemeral \`${e.name}\`.`,
      ),
    );
  }
  const entries = [
    ...app.publications.map(
      (p) =>
        `${p.name}: modelFactory<${attributesType(p.name)}>({\n    app: ${quote(app.name)},\n    endpoint: ${quote(p.endpoint.name)},\n    types: ${literal(p.ancestors)},\n    primaryKey: ${quote(p.primaryKey)},\n    defaults: (n) => (${defaults(
          p.fields.filter((f) => !f.private),
          app,
          '    ',
        )}),\n  }) as ModelFactory<${attributesType(p.name)}>`,
    ),
    ...app.ephemerals.map(
      (e) =>
        `${e.name}: ephemeralFactory<${attributesType(e.name)}>({\n    app: ${quote(app.name)},\n    endpoint: ${quote(e.endpoint.name)},\n    types: ${literal([e.name])},\n    defaults: (n) => (${defaults(e.fields, app, '    ')}),\n  }) as EphemeralFactory<${attributesType(e.name)}>`,
    ),
  ];
  statements.push(
    constant(
      'factories',
      entries.length === 0 ? '{}' : `{\n${entries.map((e) => `  ${e},`).join('\n')}\n}`,
      `Factories for the messages app \`${app.name}\` publishes: \`factories.User.create({ name: 'Yoda' })\`.`,
    ),
  );
  return printModule(header, statements);
}

/** An object literal of valid defaults for the n-th object (`n` is in scope where it is used). */
function defaults(fields: readonly Field[], app: App, indent: string): string {
  const lines = fields.map((f) => `${indent}  ${propertyKey(f.name)}: ${defaultValue(f, app, `${indent}  `)},`);
  return lines.length === 0 ? '{}' : `{\n${lines.join('\n')}\n${indent}}`;
}

function defaultValue(field: Field, app: App, indent: string): string {
  const type = field.type;
  if (type.kind === 'embedded') {
    if (type.many) return '[]';
    if (field.nullable) return 'null';
    const model = app.embedded.find((m) => m.name === type.model);
    return model ? defaults(model.fields, app, indent) : '{}';
  }
  if (field.nullable && !field.primary) return 'null';
  if (type.kind === 'enum') return quote(type.values[0] ?? '');
  if (type.kind === 'array') return '[]';
  switch (type.name) {
    case 'string':
    case 'text':
      return `\`${field.name.replace(/[`$\\]/g, '')} \${n}\``;
    case 'integer':
      return 'n';
    case 'float':
      return 'n + 0.5';
    case 'bigint':
      return 'String(n)';
    case 'decimal':
      return type.scale ? `\`\${n}.${'0'.repeat(type.scale)}\`` : 'String(n)';
    case 'boolean':
      return 'false';
    case 'date':
      return 'factoryTimestamp(n).slice(0, 10)';
    case 'timestamp':
      return 'factoryTimestamp(n)';
    case 'uuid':
      return 'factoryUuid(n)';
    case 'json':
      return '{} as Json';
  }
}
