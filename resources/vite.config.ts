// Builds the StartLogging window into resources/dist: shown by Neutralino, and served by the
// agent itself in browser mode. Paths are relative so both can serve it from any folder.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [
    svelte(),
    {
      // Neutralino's runtime globals (NL_PORT, NL_TOKEN…), loaded before the app; the agent
      // answers it empty in browser mode. Added after bundling: it is not a module to bundle.
      name: 'neutralino-globals',
      transformIndexHtml: {
        order: 'post',
        handler: () => [
          { tag: 'script', attrs: { src: '__neutralino_globals.js' }, injectTo: 'head' },
        ],
      },
    },
  ],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
