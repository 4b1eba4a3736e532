import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { Chart } from './lib/chart-setup';
import { live } from './lib/live';

// Charts are canvases: end-to-end tests (and curious users) read what they draw through
// Chart.getChart(canvas).data, so the registry is reachable from the page.
(window as unknown as { Chart: typeof Chart }).Chart = Chart;

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
// Every page shows live data: the connection is made while the page's first requests run.
live.preconnect();
export default mount(App, { target });
