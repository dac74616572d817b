import { generateKeyPairSync } from 'node:crypto';
import type { GcsServiceAccountKey } from '../../../src/storage/gcs/client.js';

/**
 * A fresh service-account key for the GCS test server: the key JSON a client
 * is given, and the public key the server verifies its token requests with
 * (startGcsServer's serviceAccountPublicKeyPem).
 */
export function testServiceAccount(clientEmail: string, projectId = 'test'): { key: GcsServiceAccountKey; publicKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    key: { type: 'service_account', project_id: projectId, client_email: clientEmail, private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
