#!/usr/bin/env node
import { runCli } from 'promiscuous/cli';

// Exits even if something left open keeps the event loop alive: a drain past its timeout.
process.exit(await runCli(process.argv));
