import t from 'tap';
import { startFaultUpstream } from '../helpers/fault-upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { faultScenarios } from './fault-scenarios.js';

const gw = await startGateway();
const fu = await startFaultUpstream();
t.teardown(async () => {
  await gw.close();
  await fu.stop();
});
faultScenarios(t, () => ({ gw, fu, snapshot: () => gw.residue() }));
