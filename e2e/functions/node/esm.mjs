// The Node function as an ES module (`esm.handler`), to exercise the runtime's ESM loading.
import echo from './index.js';

export const handler = async (event, context) => echo.handler(event, context);
