import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Two pages, one build: the console (/console/) and the shoppers' security center
// (/security-center), both served by the Bulwark server from dist/. Nothing is loaded from
// elsewhere: no fonts, no CDN (machines running Bulwark may have no internet).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  // `npm run dev`: pages from Vite, API calls passed to a server started with `npm start`.
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
      '/console/api': 'http://127.0.0.1:8080',
      '/security-center/api': 'http://127.0.0.1:8080',
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // zod ships comments Rollup cannot place; they change nothing in the bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
      input: {
        console: resolve(import.meta.dirname, 'index.html'),
        'security-center': resolve(import.meta.dirname, 'security-center.html'),
      },
    },
  },
});
