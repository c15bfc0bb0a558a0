import { describe, expect, it } from 'vitest';
import { contract } from '../support/specs.ts';

// The validator every contract test leans on: it must refuse what the spec refuses, or those
// tests prove nothing.
const header = { version: '1.0.0', message_id: 'm-1', message_ts: '2026-12-07T04:00:00Z', action: 'disburse', sender_id: 'asp-engine', total_count: 1 };
const item = { reference_id: 'L1-0001', payer_fa: 'programme:ct@asp-engine', payee_fa: 'token:h1@bank', amount: '100.00', currency_code: 'KES' };
const disburse = (items: unknown[]) => ({ signature: 'Signature: namespace="g2p"', header, message: { transaction_id: 't-1', disbursements: items } });

describe('the spec contract validator', () => {
  it('accepts a well-formed G2P Connect disburse request', () => {
    expect(contract('disburse').request('/disburse', disburse([item]))).toEqual([]);
  });

  it('refuses a disburse request without disbursements (the misspelled required entry, patched)', () => {
    const problems = contract('disburse').request('/disburse', { header, message: { transaction_id: 't-1' } });
    expect(problems.join('\n')).toContain("required property 'disbursements'");
  });

  it('refuses an amount sent as a number or with three decimals', () => {
    expect(contract('disburse').request('/disburse', disburse([{ ...item, amount: 100 }])).join('\n')).toContain('/amount');
    expect(contract('disburse').request('/disburse', disburse([{ ...item, amount: '100.001' }])).join('\n')).toContain('/amount');
  });

  it('refuses an acknowledgement outside ACK, NACK and ERR', () => {
    expect(contract('disburse').schema('Ack', 'ACK')).toEqual([]);
    expect(contract('disburse').schema('Ack', 'OK')).not.toEqual([]);
  });

  it('checks DCI social registry searches', () => {
    const search = {
      header: { ...header, action: 'search' },
      message: {
        transaction_id: 't-2',
        search_request: [{ reference_id: 'r-1', timestamp: '2026-12-07T04:00:00Z', search_criteria: { query_type: 'idtype-value', reg_type: 'ns:org:RegistryType:Social', query: { type: 'UIN', value: '1' } } }],
      },
    };
    expect(contract('social').request('/registry/sync/search', { ...search, header: { ...header, total_count: 'one' } }).join('\n')).toContain('total_count');
  });
});
