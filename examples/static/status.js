// The connection state for the examples' stylesheet: <html class="lvt-offline"> while the
// WebSocket is down (the stylesheet shows a "Reconnecting…" bar). It sits on <html>, outside the
// live root, so the client's patches of <body> never undo it.
document.addEventListener('lvt:disconnected', () => {
  document.documentElement.classList.add('lvt-offline');
});
document.addEventListener('lvt:connected', () => {
  document.documentElement.classList.remove('lvt-offline');
});
