/**
 * Derived attributes, from the routes to what the publisher schema carries: each attribute's
 * derivation and type, the table-to-subjects map (`dependents`) for one hop, two hops, a chain
 * and an aggregate, the refresh order, and the generated types (stored, never written by the app).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type App, compile, emitWorkspace, renderCompact } from '../../src/compiler/index.js';
import { dependents, derivationOrder } from '../../src/compiler/emit/derived.js';

function app(routes: string): App {
  const result = compile(
    { prom: ['routes.prom'] },
    { readFile: (path) => (path === 'routes.prom' ? routes : undefined), resolvePath: (_, path) => path },
  );
  assert.ok(result.workspace, result.diagnostics.map(renderCompact).join('\n'));
  assert.equal(result.diagnostics.map(renderCompact), []);
  return result.workspace.apps[0] as App;
}

function field(of: App, model: string, name: string) {
  const found = of.publications.find((p) => p.name === model)?.fields.find((f) => f.name === name);
  assert.ok(found, `${model}.${name}`);
  return found;
}

const shop = `
app shop
publish regions as Region { id integer primary, name string }
publish customers as Customer {
  id          integer primary
  first_name  string
  last_name   string private
  region_id   belongs_to Region?
  region_name from region.name
}
publish orders as Basket {
  id                  integer primary
  customer_id         belongs_to Customer
  status              string private
  customer_full_name  string virtual(use status, customer.first_name, customer.last_name)
  customer_region     from customer.region_name
  region              from customer_id.region.name
  line_count          integer count(OrderLine)
  total               decimal(14, 2) sum(OrderLine.amount)
  biggest             decimal(12, 2)? max(OrderLine.amount via basket_id)
}
publish order_lines as OrderLine { id integer primary, basket_id belongs_to Basket, amount decimal(12, 2) }
`;

const customer = { name: 'customer', column: 'customer_id', model: 'Customer', table: 'customers', key: 'id' };
const region = { name: 'region', column: 'region_id', model: 'Region', table: 'regions', key: 'id' };

test('a copy along one relation takes its source type, nullable when the relation is', () => {
  const f = field(app(shop), 'Customer', 'region_name');
  assert.equal(f.type, { kind: 'scalar', name: 'string' });
  assert.is(f.nullable, true);
  assert.is(f.column, 'region_name');
  assert.equal(f.derived, { kind: 'copy', path: [region], column: 'name' });
});

test('a path step names a belongs_to field, with or without its `_id`; the step is named without it', () => {
  const f = field(app(shop), 'Basket', 'region');
  assert.equal(f.derived, { kind: 'copy', path: [customer, region], column: 'name' });
  assert.is(f.nullable, true, 'the second hop may be null');
});

test('a virtual attribute reads its own columns first, then each relation with the columns read there', () => {
  const f = field(app(shop), 'Basket', 'customer_full_name');
  assert.equal(f.derived, {
    kind: 'virtual',
    reads: [
      { path: [], columns: ['status'] },
      { path: [customer], columns: ['first_name', 'last_name'] },
    ],
  });
  assert.is(f.virtual, undefined, 'stored, not computed on every publish');
});

test('aggregates read the children through their one belongs_to, or the one `via` names', () => {
  const shopApp = app(shop);
  assert.equal(field(shopApp, 'Basket', 'line_count').derived, {
    kind: 'aggregate',
    function: 'count',
    model: 'OrderLine',
    table: 'order_lines',
    via: 'basket_id',
  });
  assert.equal(field(shopApp, 'Basket', 'biggest').derived, {
    kind: 'aggregate',
    function: 'max',
    model: 'OrderLine',
    table: 'order_lines',
    via: 'basket_id',
    column: 'amount',
  });
});

test('dependents: one hop, two hops, a chain through a derived attribute, and aggregates', () => {
  const map = dependents(app(shop));
  const of = (table: string, attribute: string) =>
    (map[table] ?? []).filter((d) => d.attribute === attribute).map(({ columns, reach }) => ({ columns, reach }));
  // One hop: the subject's relation column, the related row's column.
  assert.equal(of('customers', 'region_name'), [{ columns: ['region_id'], reach: { path: [] } }]);
  assert.equal(of('regions', 'region_name'), [{ columns: ['name'], reach: { path: [region] } }]);
  // Two hops: each table along the path, reached by the steps before it.
  assert.equal(of('orders', 'region'), [{ columns: ['customer_id'], reach: { path: [] } }]);
  assert.equal(of('customers', 'region'), [{ columns: ['region_id'], reach: { path: [customer] } }]);
  assert.equal(of('regions', 'region'), [{ columns: ['name'], reach: { path: [customer, region] } }]);
  // A chain: the derived column of the related table counts as a column it reads.
  assert.equal(of('customers', 'customer_region'), [{ columns: ['region_name'], reach: { path: [customer] } }]);
  // A virtual: own columns and the first hop on the subject's table.
  assert.equal(of('orders', 'customer_full_name'), [{ columns: ['status', 'customer_id'], reach: { path: [] } }]);
  // Aggregates: the children by `via`, with the column aggregated; the subject's own creation.
  assert.equal(of('order_lines', 'line_count'), [{ columns: ['basket_id'], reach: { via: 'basket_id' } }]);
  assert.equal(of('order_lines', 'total'), [{ columns: ['basket_id', 'amount'], reach: { via: 'basket_id' } }]);
  assert.equal(of('orders', 'total'), [{ columns: [], reach: { path: [] } }]);
  assert.equal(Object.keys(map), ['customers', 'order_lines', 'orders', 'regions']);
});

test('a relation to its own model reaches its table once per step, each time with every column read there', () => {
  const map = dependents(
    app(`app hr
publish employees as Employee {
  id          integer primary
  name        string
  manager_id  belongs_to Employee?
  skip_level  from manager.manager.name
}`),
  );
  assert.equal(
    (map.employees ?? []).map((d) => [d.reach, d.columns]),
    [
      [{ path: [] }, ['manager_id', 'name']],
      [
        { path: [{ name: 'manager', column: 'manager_id', model: 'Employee', table: 'employees', key: 'id' }] },
        ['manager_id', 'name'],
      ],
      [
        {
          path: [
            { name: 'manager', column: 'manager_id', model: 'Employee', table: 'employees', key: 'id' },
            { name: 'manager', column: 'manager_id', model: 'Employee', table: 'employees', key: 'id' },
          ],
        },
        ['manager_id', 'name'],
      ],
    ],
  );
});

test('derivations: each attribute after those it reads, though its model sorts first', () => {
  const order = derivationOrder(app(shop)).map((d) => `${d.model}.${d.attribute}`);
  assert.ok(order.indexOf('Customer.region_name') < order.indexOf('Basket.customer_region'), order.join(' '));
  assert.equal(order, [
    'Basket.customer_full_name',
    'Customer.region_name',
    'Basket.customer_region',
    'Basket.region',
    'Basket.line_count',
    'Basket.total',
    'Basket.biggest',
  ]);
  assert.equal(derivationOrder(app(shop)), derivationOrder(app(shop)), 'the same every time');
});

test('an aggregate over a derived attribute of the children comes after it', () => {
  const order = derivationOrder(
    app(`app shop
publish baskets as Basket { id integer primary, discount integer, biggest_discount integer? max(Line.discount) }
publish lines as Line { id integer primary, basket_id belongs_to Basket, discount from basket.discount }`),
  );
  assert.equal(
    order.map((d) => `${d.model}.${d.attribute}`),
    ['Line.discount', 'Basket.biggest_discount'],
  );
});

test('the generated types: derived columns in rows and attributes, never in create or update', () => {
  const files = emitWorkspace({ apps: [app(shop)] });
  const publisher = files.find((f) => f.path === 'shop/publisher.ts')?.content ?? '';
  const block = (name: string) => publisher.slice(publisher.indexOf(`export interface ${name} `)).split('\n}')[0] ?? '';
  assert.match(block('BasketAttributes'), 'line_count: number;');
  assert.match(block('BasketRow'), 'line_count: number | null;');
  assert.not.match(block('BasketCreate'), 'line_count');
  assert.not.match(block('BasketCreate'), 'customer_region');
  assert.match(block('BasketCreate'), 'status: string;');
  assert.match(
    publisher,
    "customer_full_name(row: Readonly<Pick<BasketRow, 'status'>>, related: { readonly customer: { readonly first_name: string; readonly last_name: string } }): string",
  );
  assert.match(publisher, 'dependents,\n  derivations,\n  coalesce,\n  bind,');
});

test.run();
