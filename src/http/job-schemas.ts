import { JOB_STATES } from '../jobs/job-record.js';
import { workspaceParams } from './schemas.js';

/**
 * Route schemas of the job routes (docs/jobs.md). A job id is any short
 * string here: one that cannot be a job's is answered 404 `not_found`, like
 * an id that names no job, rather than 400.
 */
export const jobParams = {
  type: 'object',
  required: ['ws', 'id'],
  properties: { ...workspaceParams.properties, id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const jobListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: JOB_STATES },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
    cursor: { type: 'string', maxLength: 4096 },
  },
} as const;
