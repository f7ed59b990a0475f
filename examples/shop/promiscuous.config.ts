// An e-commerce system: shop sells, warehouse fulfils, billing extends credit, crm sees all.
// The twin of routes.prom (README.md walks through it): both generate byte-identical output.
import { defineConfig } from 'promiscuous';
import type { RuntimeHooks } from './generated/hooks.js';
import { shopVirtuals } from './virtuals.js';

const orderStatus = 'enum(pending, paid, shipped, delivered, cancelled)';

export default defineConfig<RuntimeHooks>()({
  apps: {
    shop: {
      publish: [
        {
          table: 'customers',
          as: 'Customer',
          to: 'shop/customer',
          fields: {
            id: 'uuid primary',
            email: 'string',
            name: 'string',
            phone: 'string?',
            created_at: 'timestamp',
            updated_at: 'timestamp',
          },
        },
        // Two API versions of one table: every change to an order publishes on both endpoints.
        {
          table: 'orders',
          as: 'Order',
          to: 'shop/order',
          fields: {
            id: 'uuid primary',
            customer_id: { belongsTo: 'Customer' },
            status: orderStatus,
            total: 'decimal(12, 2)',
            placed_at: 'timestamp?',
            created_at: 'timestamp',
            updated_at: 'timestamp',
          },
        },
        {
          table: 'orders',
          as: 'OrderV2',
          to: 'shop/order_v2',
          fields: {
            id: 'uuid primary',
            customer_id: { belongsTo: 'Customer' },
            state: { type: orderStatus, column: 'status' },
            total_amount: { type: 'decimal(12, 2)', column: 'total' },
            currency: 'string',
            notes: { type: 'string?', column: 'customer_notes' },
            placed_at: 'timestamp?',
            updated_at: 'timestamp',
          },
        },
        {
          table: 'order_lines',
          as: 'OrderLine',
          fields: {
            id: 'uuid primary',
            order_id: { belongsTo: 'Order' },
            sku: 'string',
            quantity: 'integer',
            unit_price: 'decimal(10, 2)',
            line_total: { type: 'decimal(12, 2)', virtual: { use: ['quantity', 'unit_price'] } },
            // Derived: copied from the customer, two relations away, and kept current by the publisher.
            customer_name: { from: 'order.customer.name' },
          },
        },
      ],
      ephemerals: {
        OrderPlaced: {
          to: 'shop/order_placed',
          fields: {
            order_id: { type: 'uuid', belongsTo: 'Order' },
            customer_id: { type: 'uuid', belongsTo: 'Customer' },
            total: 'decimal(12, 2)',
            line_count: 'integer',
            placed_at: 'timestamp',
          },
        },
      },
    },

    warehouse: {
      publish: [
        // Stock moves in bursts: a warehouse's totals over its stock levels are refreshed after 1s,
        // so that a burst of moves publishes each warehouse once.
        {
          table: 'warehouses',
          as: 'Warehouse',
          coalesce: '1s',
          fields: {
            id: 'integer primary',
            code: 'string',
            name: 'string',
            city: 'string',
            sku_count: { type: 'integer', count: 'StockLevel' },
            units_on_hand: { type: 'integer', sum: 'StockLevel.on_hand' },
          },
        },
        {
          table: 'stock_levels',
          as: 'StockLevel',
          fields: {
            id: 'bigint primary',
            warehouse_id: { belongsTo: 'Warehouse' },
            sku: 'string',
            on_hand: 'integer',
            reserved: 'integer',
            updated_at: 'timestamp',
            warehouse_code: { from: 'warehouse.code' },
          },
        },
      ],
      // Orders and their lines land in the warehouse's own tables, under its own names.
      subscribe: [
        {
          type: 'Order',
          as: 'FulfilmentOrder',
          from: 'shop/order',
          into: 'fulfilment_orders',
          foreignKey: { column: 'shop_order_id', type: 'uuid' },
          attributes: [{ customer_id: 'shop_customer_id' }, { status: 'order_status' }, 'placed_at'],
        },
        {
          type: 'OrderLine',
          as: 'FulfilmentLine',
          from: 'shop/order_line',
          into: 'fulfilment_lines',
          foreignKey: { column: 'shop_line_id', type: 'uuid' },
          attributes: [{ order_id: 'shop_order_id' }, 'sku', { quantity: 'quantity_ordered' }],
        },
      ],
    },

    billing: {
      publish: [
        // Keyed by the shop's customer id, so subscribers can join the two.
        {
          table: 'credit_accounts',
          as: 'Customer',
          to: 'billing/customer',
          fields: {
            id: 'uuid primary',
            credit_limit: 'decimal(12, 2)',
            balance: 'decimal(12, 2)',
            payment_terms: 'enum(prepaid, net30, net60)',
            updated_at: 'timestamp',
          },
        },
      ],
    },

    crm: {
      // One table, two publishers: rows meet on customer_uuid, each publisher owns its columns.
      subscribe: [
        {
          type: 'Customer',
          as: 'ShopCustomer',
          from: 'shop/customer',
          into: 'customers',
          foreignKey: { column: 'customer_uuid', type: 'uuid' },
          attributes: ['email', 'name', { created_at: 'customer_since' }],
        },
        {
          type: 'Customer',
          as: 'BillingCustomer',
          from: 'billing/customer',
          into: 'customers',
          foreignKey: { column: 'customer_uuid', type: 'uuid' },
          attributes: ['credit_limit', 'balance', 'payment_terms', { updated_at: 'credit_updated_at' }],
        },
      ],
      observe: [
        {
          type: 'OrderPlaced',
          from: 'shop/order_placed',
          attributes: ['order_id', 'customer_id', 'total', 'placed_at'],
        },
      ],
    },
  },
  // The functions of shop's virtual attributes (`line_total`), for `promiscuous publish` and `relay`.
  virtuals: { shop: shopVirtuals },
});
