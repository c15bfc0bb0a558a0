import type { AdapterFactory, HubAdapter } from './adapter.ts';
import { g2pBridgeAdapter } from './g2p-bridge.ts';
import { g2pConnectAdapter } from './g2p-connect.ts';
import { publicUrl, type Hub } from './hubs.ts';
import { loadConfig } from '../config.ts';

const ADAPTERS: Record<Hub['adapter'], AdapterFactory> = { 'g2p-connect': g2pConnectAdapter, 'g2p-bridge': g2pBridgeAdapter };

/**
 * The hub's protocol, speaking as this engine (ASP_SENDER_ID) with callbacks to `callbackBase`
 * (ASP_PUBLIC_URL, required when messages are sent).
 */
export function adapterFor(hub: Hub, callbackBase: string = publicUrl()): HubAdapter {
  return ADAPTERS[hub.adapter](hub, { senderId: loadConfig().ASP_SENDER_ID, publicUrl: callbackBase });
}
