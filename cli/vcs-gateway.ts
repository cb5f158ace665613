// The vcs-gateway command. This file only tunes the heap and then loads the program: the
// tuning must come before any module is loaded, because loading yargs and winston alone
// grows the young generation from 1 to 4 MiB (see young-generation.ts), and ES imports are
// all evaluated before the importing module's first statement.
import { keepYoungGenerationSmall } from './young-generation.js';

keepYoungGenerationSmall(process.execArgv, process.env.NODE_OPTIONS);
await import('./gateway-main.js');
