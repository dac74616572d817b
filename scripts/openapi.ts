/** Writes openapi.json from the route schemas: npm run openapi */
import { writeFile } from 'node:fs/promises';
import { generateOpenApi } from './openapi-document.js';

const doc = await generateOpenApi();
await writeFile(new URL('../openapi.json', import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
console.log('wrote openapi.json');
