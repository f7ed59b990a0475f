#!/usr/bin/env node
import { runCli } from 'promiscuous/cli';

process.exitCode = await runCli(process.argv);
