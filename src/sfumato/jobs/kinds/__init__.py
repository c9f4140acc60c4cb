"""Every kind of job sfumato runs, one module each (see ``sfumato.jobs``)."""
